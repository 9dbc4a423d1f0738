"""Ingest: bytes → pipeline → blobs first, document second.

The invariant: an image the API ever called stored keeps its bytes. Blobs are content-addressed and written before
the document, and ingest never deletes one: a document write that fails or goes unanswered may still have happened
(Elasticsearch can commit a bulk request and die before it answers), and another request may be storing the same
bytes at the same moment. A blob left without a document is removed by `imgsearch reconcile` after its grace period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from imgsearch.errors import BackendUnavailable
from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageDocument, IndexEntry, WriteOutcome
from imgsearch.metrics import timed
from imgsearch.storage.base import BlobKind, BlobStore
from imgsearch.thumbnails import THUMBNAIL_CONTENT_TYPE, make_thumbnail
from pipeline.decode import DecodedImage
from pipeline.records import ImageRecord
from pipeline.runner import Pipeline, Processed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    document: ImageDocument
    duplicate: bool


class Ingestor:
    def __init__(self, pipeline: Pipeline, index: VectorIndex, blobs: BlobStore) -> None:
        self.pipeline = pipeline
        self.index = index
        self.blobs = blobs

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

        def is_new(decoded: DecodedImage) -> bool:
            existing = self.index.get(decoded.image_id)
            if existing is not None:
                already_indexed[decoded.image_id] = existing
            return existing is None

        stream = self.pipeline.process_stream(sources, batch_size=batch_size, keep=is_new)
        pending: list[tuple[str, Processed | Exception]] = []
        for name, item in stream:
            pending.append((name, item))
            if len(pending) >= batch_size:
                yield from self._flush(pending, tags, already_indexed)
                pending = []
        yield from self._flush(pending, tags, already_indexed)

    def _flush(
        self,
        pending: list[tuple[str, Processed | Exception]],
        tags: tuple[str, ...],
        already_indexed: dict[str, ImageDocument],
    ) -> Iterator[tuple[str, IngestResult | Exception]]:
        # The same bytes twice in one batch are stored once; the later copies are duplicates of the first.
        first_position: dict[str, int] = {}
        for position, (_, item) in enumerate(pending):
            if isinstance(item, Processed) and item.record is not None:
                first_position.setdefault(item.record.image_id, position)
        new = [_NewImage(pending[p][0], *self._processed(pending[p][1])) for p in first_position.values()]
        stored: dict[str, IngestResult | Exception]
        try:
            stored = dict(zip(first_position, self._store(new, tags), strict=True)) if new else {}
        except Exception as error:  # noqa: BLE001 (a blob write failed or the model is refused: the whole batch)
            stored = dict.fromkeys(first_position, error)
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
            thumbnail = make_thumbnail(image.decoded.image)
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


@dataclass(frozen=True)
class _NewImage:
    source: str
    data: bytes
    decoded: DecodedImage
    record: ImageRecord
