"""Ingest with real stores: blobs first, document second, nothing half-written, duplicates recognised."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from PIL import Image

from imgsearch.batch_store import BatchStore
from imgsearch.errors import BackendUnavailable, ModelMismatch
from imgsearch.index.base import VectorIndex
from imgsearch.ingest import Ingestor, IngestResult
from imgsearch.storage.base import BlobKind, BlobStore
from imgsearch.thumbnails import THUMBNAIL_MAX_SIDE
from pipeline.errors import ImageRejected
from pipeline.runner import Pipeline, Processed
from tests.fixtures import jpeg_bytes, scene

Stores = tuple[VectorIndex, BlobStore]


@pytest.fixture
def ingestor(pipeline: Pipeline, stores: Stores) -> Ingestor:
    index, blobs = stores
    index.ensure(pipeline.model_id, pipeline.dim)
    return Ingestor(pipeline, index, blobs)


def stored_ids(blobs: BlobStore) -> set[str]:
    return {image_id for kind in BlobKind for image_id, _ in blobs.list_ids(kind)}


def test_ingest_stores_original_thumbnail_and_document(ingestor: Ingestor) -> None:
    data = jpeg_bytes(scene(800, 600, seed=1))
    result = ingestor.ingest(data, source="upload:beach.jpg", tags=("holiday",))

    assert result.duplicate is False
    image_id = result.document.image_id
    assert ingestor.blobs.get(BlobKind.ORIGINAL, image_id) == data
    thumbnail = Image.open(io.BytesIO(ingestor.blobs.get(BlobKind.THUMBNAIL, image_id)))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) == THUMBNAIL_MAX_SIDE
    document = ingestor.index.get(image_id)
    assert document is not None
    assert (document.width, document.height) == (800, 600)
    assert (document.source, document.tags) == ("upload:beach.jpg", ("holiday",))
    assert document.objects == result.document.objects
    assert len(document.objects) >= 2, "the whole image plus the detected objects"


def test_the_same_bytes_twice_are_one_image(ingestor: Ingestor) -> None:
    data = jpeg_bytes(scene(seed=2))
    first = ingestor.ingest(data, source="a.jpg")
    second = ingestor.ingest(data, source="copy-of-a.jpg")
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.document.image_id == first.document.image_id
    assert second.document.source == "a.jpg"
    assert ingestor.index.stats().images == 1


def test_bad_bytes_write_nothing(ingestor: Ingestor) -> None:
    with pytest.raises(ImageRejected):
        ingestor.ingest(b"GIF89a but not really", source="broken.gif")
    assert ingestor.index.stats().images == 0
    assert stored_ids(ingestor.blobs) == set()


def test_a_failed_document_write_leaves_no_blob(pipeline: Pipeline, stores: Stores) -> None:
    index, blobs = stores
    index.ensure("some-other-model", pipeline.dim)  # every document write of ours will now be refused
    with pytest.raises(ModelMismatch):
        Ingestor(pipeline, index, blobs).ingest(jpeg_bytes(scene(seed=3)), source="x.jpg")
    assert stored_ids(blobs) == set()


def test_ingest_many_reports_each_source_in_order(ingestor: Ingestor) -> None:
    good = [jpeg_bytes(scene(seed=seed)) for seed in (10, 11, 12)]
    sources = [
        ("one.jpg", lambda: good[0]),
        ("broken.jpg", lambda: b"\xff\xd8\xff not a jpeg"),
        ("two.jpg", lambda: good[1]),
        ("one-again.jpg", lambda: good[0]),
        ("three.jpg", lambda: good[2]),
    ]
    results = list(ingestor.ingest_many(sources, batch_size=2))
    assert [name for name, _ in results] == [name for name, _ in sources]
    outcome = dict(results)
    assert isinstance(outcome["broken.jpg"], ImageRejected)
    for name in ("one.jpg", "two.jpg", "three.jpg"):
        assert isinstance(outcome[name], IngestResult) and outcome[name].duplicate is False
    again = outcome["one-again.jpg"]
    assert isinstance(again, IngestResult) and again.duplicate is True
    assert ingestor.index.stats().images == 3
    assert len(stored_ids(ingestor.blobs)) == 3


class _DetectCounter:
    """The pipeline's stage timer, counting detector batches (each batch of a stream detects once)."""

    def __init__(self) -> None:
        self.detected = threading.Semaphore(0)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        yield
        if stage == "detect":
            self.detected.release()


@pytest.mark.parametrize("writes_ahead", [1, 0])
def test_a_batch_is_stored_while_the_next_one_is_computed(
    pipeline: Pipeline, stores: Stores, monkeypatch: pytest.MonkeyPatch, writes_ahead: int
) -> None:
    """The first batch's document write waits for the second batch's detector call: with writes ahead it comes
    (the models go on meanwhile), without it the write gives up waiting; results stay in input order either way.
    The pipeline runs one batch at a time here: a second lane would detect ahead of any write."""
    index, blobs = stores
    counter = _DetectCounter()
    pipeline = Pipeline(replace(pipeline.config, model_lanes=1), pipeline.detector, pipeline.embedder, counter)
    index.ensure(pipeline.model_id, pipeline.dim)
    overlapped: list[bool] = []
    add = index.add

    def add_after_the_next_batch_is_detected(entries):  # type: ignore[no-untyped-def]
        if not overlapped:
            counter.detected.acquire(timeout=0)  # this batch's own detector call
            overlapped.append(counter.detected.acquire(timeout=5 if writes_ahead else 1))
        return add(entries)

    monkeypatch.setattr(index, "add", add_after_the_next_batch_is_detected)
    ingestor = Ingestor(pipeline, index, blobs, writes_ahead=writes_ahead)
    images = [jpeg_bytes(scene(seed=700 + n)) for n in range(4)]
    sources = [(f"upload:{n}.jpg", lambda data=data: data) for n, data in enumerate(images)]
    results = list(ingestor.ingest_many(sources, batch_size=2))
    assert overlapped == [bool(writes_ahead)]
    assert [name for name, _ in results] == [name for name, _ in sources]
    assert all(isinstance(outcome, IngestResult) and not outcome.duplicate for _, outcome in results)
    assert index.stats().images == 4


def test_a_failed_write_fails_its_batch_alone(
    pipeline: Pipeline, stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, blobs = stores
    index.ensure(pipeline.model_id, pipeline.dim)
    add, calls = index.add, []

    def first_write_refused(entries):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        if len(calls) == 1:
            raise BackendUnavailable("the index", "down for a moment")
        return add(entries)

    monkeypatch.setattr(index, "add", first_write_refused)
    images = [jpeg_bytes(scene(seed=720 + n)) for n in range(4)]
    sources = [(f"upload:{n}.jpg", lambda data=data: data) for n, data in enumerate(images)]
    outcomes = [outcome for _, outcome in Ingestor(pipeline, index, blobs).ingest_many(sources, batch_size=2)]
    assert [type(outcome) for outcome in outcomes] == [
        BackendUnavailable,
        BackendUnavailable,
        IngestResult,
        IngestResult,
    ]
    assert index.stats().images == 2


def test_the_first_copy_of_an_image_is_the_one_stored_when_writes_overlap(
    pipeline: Pipeline, stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its second copy, in the next batch, waits for the first batch's write (slowed down here), so it is the
    duplicate, however the writes would otherwise have raced."""
    index, blobs = stores
    index.ensure(pipeline.model_id, pipeline.dim)
    add = index.add

    def slow_first_write(entries):  # type: ignore[no-untyped-def]
        if any(entry.document.source == "upload:0.jpg" for entry in entries):
            time.sleep(0.5)
        return add(entries)

    monkeypatch.setattr(index, "add", slow_first_write)
    first, other, third = (jpeg_bytes(scene(seed=740 + n)) for n in range(3))
    sources = [(f"upload:{n}.jpg", lambda data=data: data) for n, data in enumerate([first, other, first, third])]
    outcomes = dict(Ingestor(pipeline, index, blobs, writes_ahead=4).ingest_many(sources, batch_size=2))
    copy = outcomes["upload:2.jpg"]
    assert isinstance(copy, IngestResult) and copy.duplicate and copy.document.source == "upload:0.jpg"
    assert [getattr(outcome, "duplicate", None) for outcome in outcomes.values()] == [False, False, True, False]


def test_batches_wait_for_their_writes_holding_thumbnail_pixels_only(
    pipeline: Pipeline, stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several batches wait for their writes at once: none of them keeps a photo's full-size pixels."""
    index, blobs = stores
    index.ensure(pipeline.model_id, pipeline.dim)
    ingestor = Ingestor(pipeline, index, blobs)
    known = jpeg_bytes(scene(1600, 1200, seed=760))
    ingestor.ingest(known, "upload:known.jpg")
    held: list[int] = []
    stored = BatchStore.stored

    def spy(self: BatchStore, pending, tags):  # type: ignore[no-untyped-def]
        held.extend(max(item.decoded.image.size) for _, item in pending if isinstance(item, Processed))
        return stored(self, pending, tags)

    monkeypatch.setattr(BatchStore, "stored", spy)
    images = [known] + [jpeg_bytes(scene(1600, 1200, seed=761 + n)) for n in range(3)]
    sources = [(f"upload:{n}.jpg", lambda data=data: data) for n, data in enumerate(images)]
    outcomes = [outcome for _, outcome in ingestor.ingest_many(sources, batch_size=2)]
    assert [getattr(outcome, "duplicate", None) for outcome in outcomes] == [True, False, False, False]
    assert len(held) == 4 and max(held) <= THUMBNAIL_MAX_SIDE
    thumbnail = Image.open(io.BytesIO(blobs.get(BlobKind.THUMBNAIL, outcomes[1].document.image_id)))  # type: ignore[union-attr]
    assert max(thumbnail.size) == THUMBNAIL_MAX_SIDE
