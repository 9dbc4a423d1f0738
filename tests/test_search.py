"""Search by new bytes, by an indexed image, by one detected object or by a drawn box, on real stores."""

from __future__ import annotations

import pytest

from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.index.base import VectorIndex
from imgsearch.ingest import Ingestor
from imgsearch.search import Searcher, SearchOptions
from imgsearch.storage.base import BlobStore
from pipeline.records import Box, ObjectKind
from pipeline.runner import Pipeline
from tests.fixtures import jpeg_bytes, scene

Stores = tuple[VectorIndex, BlobStore]


@pytest.fixture
def gallery(pipeline: Pipeline, stores: Stores) -> tuple[Searcher, list[str], list[bytes]]:
    index, blobs = stores
    index.ensure(pipeline.model_id, pipeline.dim)
    ingestor = Ingestor(pipeline, index, blobs)
    payloads = [jpeg_bytes(scene(seed=100 + n)) for n in range(6)]
    ids = [ingestor.ingest(data, source=f"{n}.jpg").document.image_id for n, data in enumerate(payloads)]
    return Searcher(pipeline, index, blobs), ids, payloads


def test_an_indexed_image_finds_itself_first(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, ids, payloads = gallery
    outcome = searcher.by_bytes(payloads[2], SearchOptions(k=3, kinds=(ObjectKind.IMAGE,)))
    assert outcome.page.hits[0].image_id == ids[2]
    assert outcome.page.hits[0].similarity == pytest.approx(1.0, abs=0.03)
    assert outcome.query.used_label == "image"
    assert outcome.query.used_box == Box(0, 0, 640, 480)


def test_searching_by_a_detected_object_uses_its_box(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, ids, payloads = gallery
    outcome = searcher.by_bytes(payloads[1], SearchOptions(k=3, object=0))
    chosen = outcome.query.objects[0]
    assert outcome.query.used_box == chosen.box
    best = outcome.page.hits[0]
    assert best.image_id == ids[1]
    assert best.matches[0].box == chosen.box


def test_a_drawn_box_is_searched_and_reported(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, _, payloads = gallery
    outcome = searcher.by_bytes(payloads[0], SearchOptions(k=3, box=Box(100, 50, 300, 250)))
    assert outcome.query.used_box == Box(100, 50, 300, 250)
    assert outcome.query.used_label == "region"
    assert outcome.page.hits


def test_more_like_an_indexed_image_leaves_it_out(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, ids, _ = gallery
    outcome = searcher.by_image_id(ids[3], SearchOptions(k=10))
    returned = [hit.image_id for hit in outcome.page.hits]
    assert ids[3] not in returned and len(returned) == 5
    boxed = searcher.by_image_id(ids[3], SearchOptions(k=10, box=Box(0, 0, 200, 200)))
    assert ids[3] not in [hit.image_id for hit in boxed.page.hits]


def test_bad_choices_are_client_errors(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, _, payloads = gallery
    with pytest.raises(InvalidRequest, match="object 99"):
        searcher.by_bytes(payloads[0], SearchOptions(object=99))
    with pytest.raises(InvalidRequest, match="box"):
        searcher.by_bytes(payloads[0], SearchOptions(box=Box(10, 10, 11, 11)))
    with pytest.raises(InvalidRequest, match="either"):
        searcher.by_bytes(payloads[0], SearchOptions(object=0, box=Box(0, 0, 100, 100)))
    with pytest.raises(NotFound):
        searcher.by_image_id("f" * 64, SearchOptions())
