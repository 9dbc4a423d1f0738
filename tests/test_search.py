"""Search by new bytes, by an indexed image, by one detected object or by a drawn box, on real stores."""

from __future__ import annotations

import pytest

from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.index.base import VectorIndex
from imgsearch.ingest import Ingestor
from imgsearch.query_sessions import QueryExpired, QuerySessions
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
    return Searcher(pipeline, index, blobs, QuerySessions(8, 64 * 1024 * 1024, 600.0)), ids, payloads


def test_an_indexed_image_finds_itself_first(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, ids, payloads = gallery
    outcome = searcher.by_bytes(payloads[2], SearchOptions(k=3, target="image", kinds=(ObjectKind.IMAGE,)))
    assert outcome.page.hits[0].image_id == ids[2]
    assert outcome.page.hits[0].similarity == pytest.approx(1.0, abs=0.03)
    assert outcome.query.used.label == "image" and not outcome.query.used.auto
    assert outcome.query.used.box == Box(0, 0, 640, 480)


def test_with_nothing_named_the_main_object_is_searched(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, ids, payloads = gallery
    outcome = searcher.by_bytes(payloads[1], SearchOptions(k=3))
    used = outcome.query.used
    assert used.kind == "object" and used.auto and used.object == 0  # the most confident object
    assert used.box == outcome.query.objects[0].box
    assert outcome.page.hits[0].image_id == ids[1]
    assert outcome.page.hits[0].matches[0].box == used.box


def test_searching_by_a_detected_object_uses_its_box(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, ids, payloads = gallery
    outcome = searcher.by_bytes(payloads[1], SearchOptions(k=3, objects=(0,)))
    chosen = outcome.query.objects[0]
    assert outcome.query.used.box == chosen.box and not outcome.query.used.auto
    best = outcome.page.hits[0]
    assert best.image_id == ids[1]
    assert best.matches[0].box == chosen.box


def test_a_drawn_box_is_searched_and_reported(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, _, payloads = gallery
    outcome = searcher.by_bytes(payloads[0], SearchOptions(k=3, boxes=(Box(100, 50, 300, 250),)))
    assert outcome.query.used.box == Box(100, 50, 300, 250)
    assert outcome.query.used.label == "region"
    assert outcome.page.hits


def test_more_like_an_indexed_image_leaves_it_out(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, ids, _ = gallery
    outcome = searcher.by_image_id(ids[3], SearchOptions(k=10))
    returned = [hit.image_id for hit in outcome.page.hits]
    assert ids[3] not in returned and len(returned) == 5
    boxed = searcher.by_image_id(ids[3], SearchOptions(k=10, boxes=(Box(0, 0, 200, 200),)))
    assert ids[3] not in [hit.image_id for hit in boxed.page.hits]
    assert boxed.query.query_id is not None
    clicked = searcher.by_query_id(boxed.query.query_id, SearchOptions(k=10, target="image"))
    assert ids[3] not in [hit.image_id for hit in clicked.page.hits]


def test_bad_choices_are_client_errors(gallery: tuple[Searcher, list[str], list[bytes]]) -> None:
    searcher, _, payloads = gallery
    with pytest.raises(InvalidRequest, match="object 99"):
        searcher.by_bytes(payloads[0], SearchOptions(objects=(99,)))
    with pytest.raises(InvalidRequest, match="box"):
        searcher.by_bytes(payloads[0], SearchOptions(boxes=(Box(10, 10, 11, 11),)))
    with pytest.raises(InvalidRequest, match="target 'image'"):
        searcher.by_bytes(payloads[0], SearchOptions(objects=(0,), target="image"))
    with pytest.raises(InvalidRequest, match="twice"):
        searcher.by_bytes(payloads[0], SearchOptions(objects=(0, 0)))
    with pytest.raises(InvalidRequest, match="at most 4"):
        searcher.by_bytes(payloads[0], SearchOptions(boxes=(Box(0, 0, 100, 100),) * 5))
    with pytest.raises(NotFound):
        searcher.by_image_id("f" * 64, SearchOptions())
    with pytest.raises(NotFound, match="no query"):
        searcher.by_query_id("q_" + "A" * 22, SearchOptions())


def test_a_session_answers_like_the_image_without_detecting_again(
    gallery: tuple[Searcher, list[str], list[bytes]], pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    searcher, _, payloads = gallery
    first = searcher.by_bytes(payloads[4], SearchOptions(k=5))
    assert first.query.query_id is not None and first.query.query_id.startswith("q_")
    last = len(first.query.objects) - 1
    box = Box(50, 40, 400, 300)
    fresh = {
        "object": searcher.by_bytes(payloads[4], SearchOptions(k=5, objects=(last,))),
        "box": searcher.by_bytes(payloads[4], SearchOptions(k=5, boxes=(box,))),
    }

    def no_detection(*args: object, **kwargs: object) -> None:
        raise AssertionError("a session must not decode or detect again")

    monkeypatch.setattr(pipeline, "analyze", no_detection)
    by_session = {
        "object": searcher.by_query_id(first.query.query_id, SearchOptions(k=5, objects=(last,))),
        "box": searcher.by_query_id(first.query.query_id, SearchOptions(k=5, boxes=(box,))),
    }
    for kind, outcome in by_session.items():
        assert [hit.image_id for hit in outcome.page.hits] == [hit.image_id for hit in fresh[kind].page.hits]
        assert [hit.similarity for hit in outcome.page.hits] == pytest.approx(
            [hit.similarity for hit in fresh[kind].page.hits], abs=1e-5
        )
        assert outcome.query.query_id == first.query.query_id
        assert outcome.query.objects == first.query.objects


def test_an_ended_session_is_expired_not_unknown(pipeline: Pipeline, stores: Stores) -> None:
    index, blobs = stores
    index.ensure(pipeline.model_id, pipeline.dim)
    searcher = Searcher(pipeline, index, blobs, QuerySessions(1, 64 * 1024 * 1024, 600.0))
    first = searcher.by_bytes(jpeg_bytes(scene(seed=1)), SearchOptions(k=1))
    searcher.by_bytes(jpeg_bytes(scene(seed=2)), SearchOptions(k=1))  # room for one: the first ends
    assert first.query.query_id is not None
    with pytest.raises(QueryExpired, match="search with the image again"):
        searcher.by_query_id(first.query.query_id, SearchOptions(k=1))
