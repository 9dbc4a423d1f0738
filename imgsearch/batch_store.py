"""Storing one processed batch: blobs first, then one bulk document write, and each image's outcome.

The invariant: an image the API ever called stored keeps its bytes. Blobs are content-addressed and written before
the document, and nothing here deletes one: a document write that fails or goes unanswered may still have happened
(Elasticsearch can commit a bulk request and die before it answers), and another writer may be storing the same
bytes at the same moment. A blob left without a document is removed by `imgsearch reconcile` after its grace period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from imgsearch.errors import BackendUnavailable
from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageDocument, IndexEntry, WriteOutcome
from imgsearch.metrics import timed
from imgsearch.storage.base import Blob, BlobKind, BlobStore
from imgsearch.thumbnails import THUMBNAIL_CONTENT_TYPE, thumbnail_jpeg
from pipeline.decode import DecodedImage
from pipeline.records import ImageRecord, Processed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    document: ImageDocument
    duplicate: bool


Stored = IngestResult | Exception
# A batch as the models left it: (source name, processed image or why it failed), in input order.
Batch = list[tuple[str, Processed | Exception]]


class BatchStore:
    """Used by the local ingestor's background writer and by the Ray engine's writer actors alike."""

    def __init__(self, index: VectorIndex, blobs: BlobStore) -> None:
        self.index = index
        self.blobs = blobs

    def store(
        self, batch: Batch, tags: tuple[str, ...], already_indexed: dict[str, ImageDocument]
    ) -> list[tuple[str, Stored]]:
        """Store the batch's new images now: every source's outcome, in order. `already_indexed`: documents found
        for the images the models were spared (others are looked up)."""
        return list(self.outcomes(batch, self.stored(batch, tags), already_indexed))

    def stored(self, pending: Batch, tags: tuple[str, ...]) -> dict[str, Stored]:
        """Store a batch's new images: the outcome per image id. The same bytes twice in one batch are stored once;
        the later copies are reported as duplicates of the first."""
        first_position = first_positions(pending)
        new = [_NewImage(pending[p][0], *_processed(pending[p][1])) for p in first_position.values()]
        try:
            return dict(zip(first_position, self._store(new, tags), strict=True)) if new else {}
        except Exception as error:  # noqa: BLE001 (a blob write failed or the model is refused: the whole batch)
            return dict.fromkeys(first_position, error)

    def outcomes(
        self, pending: Batch, stored: dict[str, Stored], already_indexed: dict[str, ImageDocument]
    ) -> list[tuple[str, Stored]]:
        first_position = first_positions(pending)
        outcomes: list[tuple[str, Stored]] = []
        for position, (name, item) in enumerate(pending):
            if isinstance(item, Exception):
                outcomes.append((name, item))
            elif item.record is not None and first_position[item.record.image_id] == position:
                outcomes.append((name, stored[item.record.image_id]))
            else:
                outcomes.append((name, self._existing(item.decoded, already_indexed)))
        return outcomes

    def _existing(self, decoded: DecodedImage, already_indexed: dict[str, ImageDocument]) -> Stored:
        # A second copy within this stream was skipped after the first was stored: that one is not in the dict yet.
        existing = already_indexed.pop(decoded.image_id, None) or self.index.get(decoded.image_id)
        if existing is None:
            return RuntimeError(f"image {decoded.image_id} was deleted while being ingested")
        return IngestResult(existing, duplicate=True)

    def _store(self, images: list[_NewImage], tags: tuple[str, ...]) -> list[Stored]:
        """Blobs first, then one bulk document write; a failed write is judged by what the index holds after it."""
        now = datetime.now(UTC)
        entries = [IndexEntry.from_record(image.record, image.source, now, tags) for image in images]
        # A refusal known before anything is written; once a model (with Elasticsearch, a request each).
        for model_id in dict.fromkeys(entry.document.model_id for entry in entries):
            self.index.check_writable(model_id)
        originals = [Blob(image.record.image_id, image.data, image.decoded.content_type) for image in images]
        # The decoded pixels are the thumbnail's already.
        thumbnails = [
            Blob(image.record.image_id, thumbnail_jpeg(image.decoded.image), THUMBNAIL_CONTENT_TYPE) for image in images
        ]
        with timed("storage"):
            self.blobs.put_many(BlobKind.ORIGINAL, originals)
            self.blobs.put_many(BlobKind.THUMBNAIL, thumbnails)
        try:
            with timed("storage"):
                outcomes = self.index.add(entries)
        except Exception as error:  # noqa: BLE001 (whatever failed, the write may have happened: look)
            return [self._after_failed_write(entry, error) for entry in entries]
        return [self._result(entry, outcomes.get(entry.document.image_id)) for entry in entries]

    def _after_failed_write(self, entry: IndexEntry, error: Exception) -> Stored:
        """The document is there (written before the answer was lost, or by another writer), or the error stands.

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
            # Another writer stored the same bytes first; the blobs are shared (content-addressed).
            return IngestResult(self.index.get(entry.document.image_id) or entry.document, duplicate=True)
        return IngestResult(entry.document, duplicate=False)


def first_positions(pending: Batch) -> dict[str, int]:
    """Where each new image first occurs in a batch: that copy is stored, the others are its duplicates."""
    first_position: dict[str, int] = {}
    for position, (_, item) in enumerate(pending):
        if isinstance(item, Processed) and item.record is not None:
            first_position.setdefault(item.record.image_id, position)
    return first_position


def _processed(item: Processed | Exception) -> tuple[bytes, DecodedImage, ImageRecord]:
    assert isinstance(item, Processed) and item.record is not None
    return item.data, item.decoded, item.record


@dataclass(frozen=True)
class _NewImage:
    source: str
    data: bytes
    decoded: DecodedImage
    record: ImageRecord
