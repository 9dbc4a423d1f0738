"""Re-index: every stored original through the configured models into a new index, then switch to it.

The copy walks the index in use in image-id order and records the last id written (`Job.position`), so a resume
goes on after it; writes are `create`, so an image written twice is a duplicate, never a second copy. Searches and
writes go on against the index in use meanwhile; `catch_up` then brings the new index level with it (images added,
deleted or re-tagged since they were copied). Run once before the switch and once after it: a write that was
already on its way to the old index when the switch happened lands there, and the second pass carries it over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from imgsearch.errors import NotFound
from imgsearch.index.base import VectorIndex
from imgsearch.index.generations import ImageListing
from imgsearch.index.types import ImageDocument, IndexEntry, WriteOutcome
from imgsearch.ingest import IngestResult
from imgsearch.jobs import Job
from imgsearch.storage.base import BlobKind, BlobStore
from pipeline.runner import Pipeline, Processed

# Images read from the index in use per step: a resume repeats at most this many.
PAGE = 16

Outcome = IngestResult | Exception


@dataclass
class CatchUp:
    added: int = 0
    removed: int = 0
    retagged: int = 0

    def __iadd__(self, other: CatchUp) -> CatchUp:
        self.added += other.added
        self.removed += other.removed
        self.retagged += other.retagged
        return self


class OriginalMismatch(OSError):
    """The stored original no longer hashes to its image id."""


class Reindexer:
    def __init__(
        self,
        pipeline: Pipeline,
        blobs: BlobStore,
        source: ImageListing,
        target: VectorIndex,
        job: Job,
        on_result: Callable[[str, Outcome], None] = lambda _id, _outcome: None,
        batch_size: int = 8,
    ) -> None:
        self.pipeline = pipeline
        self.blobs = blobs
        self.source = source
        self.target = target
        self.job = job
        self.on_result = on_result  # after the job has recorded it: progress bars, saves
        self.batch_size = batch_size
        self._failed: set[str] = set()  # in this run: reported once, not tried again by a catch-up

    def copy(self, stop_requested: Callable[[], bool]) -> bool:
        """Copy every image after the job's position; False when stopped first (after a whole page)."""
        while not stop_requested():
            documents = self.source.documents_after(self.job.position or None, PAGE)
            if not documents:
                return True
            self._reindex(documents)
            self.job.position = documents[-1].image_id
        return False

    def catch_up(self) -> CatchUp:
        """Make the new index hold what the index in use holds now: copy what it lacks, delete what is gone,
        take the tags that changed."""
        changes = CatchUp()
        self.target.make_writes_visible()
        missing: list[ImageDocument] = []
        source, target = _every(self.source), _every(self.target)
        wanted, have = next(source, None), next(target, None)
        while wanted is not None or have is not None:
            if have is None or (wanted is not None and wanted.image_id < have.image_id):
                assert wanted is not None
                if wanted.image_id not in self._failed:
                    missing.append(wanted)
                wanted = next(source, None)
            elif wanted is None or have.image_id < wanted.image_id:
                self.target.delete(have.image_id)
                changes.removed += 1
                have = next(target, None)
            else:
                if wanted.tags != have.tags:
                    self.target.set_tags(have.image_id, wanted.tags)
                    changes.retagged += 1
                wanted, have = next(source, None), next(target, None)
        for start in range(0, len(missing), PAGE):
            changes.added += self._reindex(missing[start : start + PAGE])
        return changes

    def _reindex(self, documents: Sequence[ImageDocument]) -> int:
        """Through the models and into the new index in one bulk write; the number newly written."""
        by_id = {document.image_id: document for document in documents}
        sources = [(image_id, self._original(image_id)) for image_id in by_id]
        outcomes: dict[str, Outcome] = {}
        entries: list[IndexEntry] = []
        for image_id, item in self.pipeline.process_stream(sources, batch_size=self.batch_size):
            entry = _entry(by_id[image_id], item)
            if isinstance(entry, Exception):
                outcomes[image_id] = entry
                self._failed.add(image_id)
            else:
                entries.append(entry)
        written = self.target.add(entries) if entries else {}
        for entry in entries:
            image_id = entry.document.image_id
            outcomes[image_id] = IngestResult(entry.document, duplicate=written.get(image_id) is WriteOutcome.DUPLICATE)
        for image_id in by_id:  # in id order, as the position moves
            self.job.record(image_id, outcomes[image_id])
            self.on_result(image_id, outcomes[image_id])
        return sum(outcome is WriteOutcome.CREATED for outcome in written.values())

    def _original(self, image_id: str) -> Callable[[], bytes]:
        def read() -> bytes:
            try:
                return self.blobs.get(BlobKind.ORIGINAL, image_id)
            except NotFound as error:  # a lost original fails its image; an unreachable store stops the job
                raise FileNotFoundError(f"the original of {image_id} is missing from the blob store") from error

        return read


def _entry(document: ImageDocument, item: Processed | Exception) -> IndexEntry | Exception:
    """The new document keeps what the old one knew beyond the models: where the image came from, when, its tags."""
    if isinstance(item, Exception):
        return item
    record = item.record
    assert record is not None
    if record.image_id != document.image_id:
        return OriginalMismatch(f"the stored original of {document.image_id} hashes to {record.image_id}")
    return IndexEntry.from_record(record, document.source, document.created_at, document.tags)


def _every(listing: ImageListing) -> Iterator[ImageDocument]:
    after: str | None = None
    while documents := listing.documents_after(after, 500):
        yield from documents
        after = documents[-1].image_id
