"""Ingest with real stores: blobs first, document second, nothing half-written, duplicates recognised."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imgsearch.errors import ModelMismatch
from imgsearch.index.base import VectorIndex
from imgsearch.ingest import Ingestor, IngestResult
from imgsearch.storage.base import BlobKind, BlobStore
from imgsearch.thumbnails import THUMBNAIL_MAX_SIDE
from pipeline.errors import ImageRejected
from pipeline.runner import Pipeline
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
