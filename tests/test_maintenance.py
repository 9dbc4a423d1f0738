"""Delete removes an image everywhere; reconcile removes what a crash between two writes left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imgsearch.errors import NotFound
from imgsearch.index.base import VectorIndex
from imgsearch.ingest import Ingestor
from imgsearch.maintenance import delete_image, reconcile
from imgsearch.storage.base import BlobKind, BlobStore
from pipeline.runner import Pipeline
from tests.fixtures import jpeg_bytes, scene

Stores = tuple[VectorIndex, BlobStore]


@pytest.fixture
def ingestor(pipeline: Pipeline, stores: Stores) -> Ingestor:
    index, blobs = stores
    index.ensure(pipeline.model_id, pipeline.dim)
    return Ingestor(pipeline, index, blobs)


def test_delete_removes_document_and_both_blobs(ingestor: Ingestor) -> None:
    image_id = ingestor.ingest(jpeg_bytes(scene(seed=40)), source="x.jpg").document.image_id
    delete_image(ingestor.index, ingestor.blobs, image_id)
    assert ingestor.index.get(image_id) is None
    assert not any(ingestor.blobs.exists(kind, image_id) for kind in BlobKind)
    with pytest.raises(NotFound):
        delete_image(ingestor.index, ingestor.blobs, image_id)


def test_reconcile_removes_orphan_blobs_and_documents_without_original(ingestor: Ingestor) -> None:
    kept = ingestor.ingest(jpeg_bytes(scene(seed=41)), source="kept.jpg").document.image_id
    broken = ingestor.ingest(jpeg_bytes(scene(seed=42)), source="broken.jpg").document.image_id
    orphan = "0" * 64
    ingestor.blobs.put(BlobKind.ORIGINAL, orphan, b"left by a crash", "image/jpeg")
    ingestor.blobs.delete(BlobKind.ORIGINAL, broken)  # a document whose original went missing

    report = reconcile(ingestor.index, ingestor.blobs, grace=timedelta(0), now=datetime.now(UTC) + timedelta(1))

    assert report.orphan_blobs_removed == [f"original:{orphan}"]
    assert report.documents_without_original_removed == [broken]
    assert not ingestor.blobs.exists(BlobKind.ORIGINAL, orphan)
    assert ingestor.index.get(broken) is None and not ingestor.blobs.exists(BlobKind.THUMBNAIL, broken)
    assert ingestor.index.get(kept) is not None and ingestor.blobs.exists(BlobKind.ORIGINAL, kept)


def test_reconcile_spares_young_blobs_of_writes_in_flight(ingestor: Ingestor) -> None:
    ingestor.blobs.put(BlobKind.ORIGINAL, "1" * 64, b"being written right now", "image/jpeg")
    report = reconcile(ingestor.index, ingestor.blobs)
    assert report.orphan_blobs_removed == []
    assert ingestor.blobs.exists(BlobKind.ORIGINAL, "1" * 64)
