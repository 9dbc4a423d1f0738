"""Ingest: bytes → pipeline → blobs first, document second (`imgsearch.batch_store`), the models of the next batch
running while the last ones are stored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import NamedTuple

from PIL import Image

from imgsearch.batch_store import Batch, BatchStore, IngestResult, Stored, first_positions
from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageDocument
from imgsearch.storage.base import BlobStore
from imgsearch.thumbnails import thumbnail_pixels
from pipeline.decode import DecodedImage
from pipeline.runner import Pipeline, Processed

# Batches that may still be being stored while the models work on the next one: bounds the memory held and the
# load on the stores. Several, because an Elasticsearch bulk write waits for the next refresh (up to a second).
WRITES_AHEAD = 4


class _Writing(NamedTuple):
    batch: Batch
    new_ids: set[str]
    stored: Future[dict[str, Stored]]


class Ingestor:
    def __init__(
        self, pipeline: Pipeline, index: VectorIndex, blobs: BlobStore, writes_ahead: int = WRITES_AHEAD
    ) -> None:
        """`writes_ahead`: batches still being stored while the next is computed (0: each batch is stored before
        the next one is taken from the pipeline, whose lanes may have modelled it already; with one model lane
        (`model_lanes=1`) too, before its models run: the baseline `bench/ingest_backends.py` compares with)."""
        self.pipeline = pipeline
        self.index = index
        self.blobs = blobs
        self.writes_ahead = writes_ahead
        self.batches = BatchStore(index, blobs)

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
                batch = [(name, lightened(item)) for name, item in full_batch]
                new_ids = set(first_positions(batch))
                # The same image in a batch still being written: that write first, so the first copy is stored.
                while writing and any(new_ids & earlier.new_ids for earlier in writing):
                    yield from self._outcomes(writing.popleft(), already_indexed)
                writing.append(_Writing(batch, new_ids, writer.submit(self.batches.stored, batch, tags)))
                while len(writing) > self.writes_ahead or (writing and writing[0].stored.done()):
                    yield from self._outcomes(writing.popleft(), already_indexed)
            while writing:
                yield from self._outcomes(writing.popleft(), already_indexed)

    def _outcomes(
        self, written: _Writing, already_indexed: dict[str, ImageDocument]
    ) -> list[tuple[str, IngestResult | Exception]]:
        return self.batches.outcomes(written.batch, written.stored.result(), already_indexed)


# What an image already indexed keeps of its pixels while its batch waits: only its id and sizes are read.
_NO_PIXELS = Image.new("RGB", (1, 1))


def lightened(item: Processed | Exception) -> Processed | Exception:
    """The item with its full-size pixels (36 MB for a 12 MP photo) replaced by the thumbnail's, or dropped when
    the image is not stored: batches wait for their writes (or travel to a writer) holding only what those need."""
    if isinstance(item, Exception):
        return item
    pixels = thumbnail_pixels(item.decoded.image) if item.record is not None else _NO_PIXELS
    return replace(item, decoded=replace(item.decoded, image=pixels))


def _batches(stream: Iterable[tuple[str, Processed | Exception]], size: int) -> Iterator[Batch]:
    batch: Batch = []
    for item in stream:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = ["Batch", "IngestResult", "Ingestor", "Stored", "lightened"]
