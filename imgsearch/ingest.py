"""Ingest: bytes → pipeline → blobs first, document second.

The invariant: an image the API ever called stored keeps its bytes. Blobs are content-addressed and written before
the document, and ingest never deletes one: a document write that fails or goes unanswered may still have happened
(Elasticsearch can commit a bulk request and die before it answers), and another request may be storing the same
bytes at the same moment. A blob left without a document is removed by `imgsearch reconcile` after its grace period.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import NamedTuple

from PIL import Image

from imgsearch.errors import BackendUnavailable
from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageDocument, IndexEntry, WriteOutcome
from imgsearch.metrics import timed
from imgsearch.storage.base import BlobKind, BlobStore
from imgsearch.thumbnails import THUMBNAIL_CONTENT_TYPE, thumbnail_jpeg, thumbnail_pixels
from pipeline.decode import DecodedImage
from pipeline.records import ImageRecord
from pipeline.runner import Pipeline, Processed

log = logging.getLogger(__name__)
# Batches that may still be being stored while the models work on the next one: bounds the memory held and the
# load on the stores. Several, because an Elasticsearch bulk write waits for the next refresh (up to a second).
WRITES_AHEAD = 4


@dataclass(frozen=True)
class IngestResult:
    document: ImageDocument
    duplicate: bool


Stored = IngestResult | Exception
Batch = list[tuple[str, Processed | Exception]]


class _Writing(NamedTuple):
    batch: Batch
    new_ids: set[str]
    stored: Future[dict[str, Stored]]


class Ingestor:
    def __init__(
        self, pipeline: Pipeline, index: VectorIndex, blobs: BlobStore, writes_ahead: int = WRITES_AHEAD
    ) -> None:
        """`writes_ahead`: batches still being stored while the next is computed (0: each batch is stored before
        the next one's models run, the baseline `bench/ingest_backends.py` compares with)."""
        self.pipeline = pipeline
        self.index = index
        self.blobs = blobs
        self.writes_ahead = writes_ahead

    def ingest(self, data: bytes, source: str, tags: tuple[str, ...] = ()) -> IngestResult:
        """One image, through the same path as a stream of them; raises what refused it."""
        ((_, outcome),) = self.ingest_many([(source, lambda: data)], tags, batch_size=1)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def ingest_many(
        self, sources: Iterable[tuple[str, Callable[[], bytes]]], tags: tuple[str, ...] = (), batch_size: int = 8
    ) -> Iterator[tuple[str, IngestResult | Exception]]:
        """A stream of (source name, reader): results in input order, one bulk write per batch."""
        # Documents found while deciding to skip the models are reported from here, not fetched a second time.
        already_indexed: dict[str, ImageDocument] = {}

        def is_new(batch: list[DecodedImage]) -> list[bool]:
            existing = self.index.get_many([decoded.image_id for decoded in batch])  # one request a batch
            already_indexed.update(existing)
            return [decoded.image_id not in existing for decoded in batch]

        stream = self.pipeline.process_stream(sources, batch_size=batch_size, keep=is_new)
        # Writes overlap the models: batches are stored in the background while the next ones are computed (their
        # waits for Elasticsearch's refresh overlapping too); results still come in input order, each after its
        # batch's write.
        writing: deque[_Writing] = deque()
        with ThreadPoolExecutor(max(1, self.writes_ahead), thread_name_prefix="ingest-write") as writer:
            for full_batch in _batches(stream, batch_size):
                batch = [(name, _lightened(item)) for name, item in full_batch]
                new_ids = set(_first_positions(batch))
                # The same image in a batch still being written: that write first, so the first copy is stored.
                while writing and any(new_ids & earlier.new_ids for earlier in writing):
                    yield from self._results(writing.popleft(), already_indexed)
                writing.append(_Writing(batch, new_ids, writer.submit(self._stored, batch, tags)))
                while len(writing) > self.writes_ahead or (writing and writing[0].stored.done()):
                    yield from self._results(writing.popleft(), already_indexed)
            while writing:
                yield from self._results(writing.popleft(), already_indexed)

    def _stored(self, pending: Batch, tags: tuple[str, ...]) -> dict[str, Stored]:
        """Store a batch's new images: the outcome per image id. The same bytes twice in one batch are stored once;
        the later copies are reported as duplicates of the first."""
        first_position = _first_positions(pending)
        new = [_NewImage(pending[p][0], *self._processed(pending[p][1])) for p in first_position.values()]
        try:
            return dict(zip(first_position, self._store(new, tags), strict=True)) if new else {}
        except Exception as error:  # noqa: BLE001 (a blob write failed or the model is refused: the whole batch)
            return dict.fromkeys(first_position, error)

    def _results(
        self, written: _Writing, already_indexed: dict[str, ImageDocument]
    ) -> Iterator[tuple[str, IngestResult | Exception]]:
        pending, stored = written.batch, written.stored.result()
        first_position = _first_positions(pending)
        for position, (name, item) in enumerate(pending):
            if isinstance(item, Exception):
                yield name, item
            elif item.record is not None and first_position[item.record.image_id] == position:
                yield name, stored[item.record.image_id]
            else:
                yield name, self._existing(item.decoded, already_indexed)

    @staticmethod
    def _processed(item: Processed | Exception) -> tuple[bytes, DecodedImage, ImageRecord]:
        assert isinstance(item, Processed) and item.record is not None
        return item.data, item.decoded, item.record

    def _existing(self, decoded: DecodedImage, already_indexed: dict[str, ImageDocument]) -> IngestResult | Exception:
        # A second copy within this stream was skipped after the first was stored: that one is not in the dict yet.
        existing = already_indexed.pop(decoded.image_id, None) or self.index.get(decoded.image_id)
        if existing is None:
            return RuntimeError(f"image {decoded.image_id} was deleted while being ingested")
        return IngestResult(existing, duplicate=True)

    def _store(self, images: list[_NewImage], tags: tuple[str, ...]) -> list[IngestResult | Exception]:
        """Blobs first, then one bulk document write; a failed write is judged by what the index holds after it."""
        now = datetime.now(UTC)
        entries = [IndexEntry.from_record(image.record, image.source, now, tags) for image in images]
        for entry in entries:
            self.index.check_writable(entry.document.model_id)  # a refusal known before anything is written
        for image in images:
            image_id = image.record.image_id
            thumbnail = thumbnail_jpeg(image.decoded.image)  # its pixels are the thumbnail's already
            with timed("storage"):
                self.blobs.put(BlobKind.ORIGINAL, image_id, image.data, image.decoded.content_type)
                self.blobs.put(BlobKind.THUMBNAIL, image_id, thumbnail, THUMBNAIL_CONTENT_TYPE)
        try:
            with timed("storage"):
                outcomes = self.index.add(entries)
        except Exception as error:  # noqa: BLE001 (whatever failed, the write may have happened: look)
            return [self._after_failed_write(entry, error) for entry in entries]
        return [self._result(entry, outcomes.get(entry.document.image_id)) for entry in entries]

    def _after_failed_write(self, entry: IndexEntry, error: Exception) -> IngestResult | Exception:
        """The document is there (written before the answer was lost, or by another request), or the error stands.

        Either way the blobs stay: when the index cannot be asked, nobody can know that they are not needed.
        """
        try:
            found = self.index.get(entry.document.image_id)
        except BackendUnavailable:
            found = None
        if found is None:
            log.warning("document write failed; blobs kept for reconcile", extra={"image_id": entry.document.image_id})
            return error
        ours = (found.source, found.created_at) == (entry.document.source, entry.document.created_at)
        return IngestResult(found, duplicate=not ours)

    def _result(self, entry: IndexEntry, outcome: WriteOutcome | None) -> IngestResult:
        if outcome is WriteOutcome.DUPLICATE:
            # Another request stored the same bytes first; the blobs are shared (content-addressed).
            return IngestResult(self.index.get(entry.document.image_id) or entry.document, duplicate=True)
        return IngestResult(entry.document, duplicate=False)


# What an image already indexed keeps of its pixels while its batch waits: only its id and sizes are read.
_NO_PIXELS = Image.new("RGB", (1, 1))


def _lightened(item: Processed | Exception) -> Processed | Exception:
    """The item with its full-size pixels (36 MB for a 12 MP photo) replaced by the thumbnail's, or dropped when
    the image is not stored: batches wait for their writes holding only what those need."""
    if isinstance(item, Exception):
        return item
    pixels = thumbnail_pixels(item.decoded.image) if item.record is not None else _NO_PIXELS
    return replace(item, decoded=replace(item.decoded, image=pixels))


def _first_positions(pending: Batch) -> dict[str, int]:
    """Where each new image first occurs in a batch: that copy is stored, the others are its duplicates."""
    first_position: dict[str, int] = {}
    for position, (_, item) in enumerate(pending):
        if isinstance(item, Processed) and item.record is not None:
            first_position.setdefault(item.record.image_id, position)
    return first_position


def _batches(stream: Iterable[tuple[str, Processed | Exception]], size: int) -> Iterator[Batch]:
    batch: Batch = []
    for item in stream:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class _NewImage:
    source: str
    data: bytes
    decoded: DecodedImage
    record: ImageRecord
