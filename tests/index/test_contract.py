"""One contract for both back ends (real Elasticsearch, and the embedded index): same answers to the same calls."""

from __future__ import annotations

import numpy as np
import pytest

from imgsearch.errors import InvalidRequest, ModelMismatch
from imgsearch.index.base import VectorIndex
from imgsearch.index.cursor import encode_browse_cursor, encode_cursor
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.types import IndexEntry, VectorQuery, WriteOutcome
from pipeline.records import ObjectKind
from tests.index.conftest import DIM, MODEL_ID, IndexFactory, make_corpus

# Elasticsearch stores int8-quantised vectors: its similarities are close to, not equal to, the float ones.
SIMILARITY_TOLERANCE = 0.03


@pytest.fixture
def corpus(index: VectorIndex) -> list[IndexEntry]:
    entries = make_corpus()
    outcomes = index.add(entries)
    assert set(outcomes.values()) == {WriteOutcome.CREATED}
    return entries


def query_for(entry: IndexEntry, object_index: int, **options: object) -> VectorQuery:
    return VectorQuery(vector=entry.vectors[object_index], model_id=MODEL_ID, **options)  # type: ignore[arg-type]


def by_id(corpus: list[IndexEntry]) -> dict[str, IndexEntry]:
    return {entry.document.image_id: entry for entry in corpus}


def test_an_object_finds_its_own_image_and_box_first(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    target = corpus[7]
    page = index.search(query_for(target, 1, k=5))
    best = page.hits[0]
    assert best.image_id == target.document.image_id
    assert best.matches[0].object_index == 1
    assert best.matches[0].box == target.document.objects[1].box
    assert best.similarity == pytest.approx(1.0, abs=SIMILARITY_TOLERANCE)


def test_grouping_returns_each_image_once_with_its_own_boxes(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    entries = by_id(corpus)
    page = index.search(query_for(corpus[3], 1, k=20))
    ids = [hit.image_id for hit in page.hits]
    assert len(ids) == len(set(ids)) == 20
    for hit in page.hits:
        stored = {obj.index: obj for obj in entries[hit.image_id].document.objects}
        assert hit.matches, "every hit names the objects that matched"
        for match in hit.matches:
            assert stored[match.object_index].box == match.box
            assert stored[match.object_index].label == match.label
        assert hit.similarity == pytest.approx(max(m.similarity for m in hit.matches), abs=1e-6)
        exact = float(entries[hit.image_id].vectors[hit.matches[0].object_index] @ corpus[3].vectors[1])
        assert hit.matches[0].similarity == pytest.approx(exact, abs=SIMILARITY_TOLERANCE)
    similarities = [hit.similarity for hit in page.hits]
    assert similarities == sorted(similarities, reverse=True)


def test_label_kind_and_similarity_filters_hold(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    dogs = index.search(query_for(corpus[0], 0, k=10, labels=("dog",)))
    assert dogs.hits
    assert {m.label for hit in dogs.hits for m in hit.matches} == {"dog"}

    wholes = index.search(query_for(corpus[0], 1, k=10, kinds=(ObjectKind.IMAGE,)))
    assert {m.kind for hit in wholes.hits for m in hit.matches} == {ObjectKind.IMAGE}
    objects = index.search(query_for(corpus[0], 0, k=10, kinds=(ObjectKind.OBJECT,)))
    assert {m.kind for hit in objects.hits for m in hit.matches} == {ObjectKind.OBJECT}
    # With every kind allowed (ES then sends no kind filter), a whole-image vector finds itself first.
    either = index.search(query_for(corpus[0], 0, k=10, kinds=tuple(ObjectKind)))
    assert either.hits[0].image_id == corpus[0].document.image_id
    assert either.hits[0].matches[0].kind is ObjectKind.IMAGE

    close = index.search(query_for(corpus[0], 1, k=40, min_similarity=0.5))
    assert all(m.similarity >= 0.5 - SIMILARITY_TOLERANCE for hit in close.hits for m in hit.matches)
    assert len(close.hits) < 40, "a threshold must cut the list short on this corpus"

    others = index.search(query_for(corpus[0], 1, k=10, exclude_ids=(corpus[0].document.image_id,)))
    assert corpus[0].document.image_id not in {hit.image_id for hit in others.hits}


def test_pages_walk_the_ranking_without_repeats(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    whole = index.search(query_for(corpus[5], 1, k=30))
    seen, offset = [], 0
    while offset is not None and len(seen) < 30:
        page = index.search(query_for(corpus[5], 1, k=7, offset=offset))
        seen += [hit.image_id for hit in page.hits]
        offset = page.next_offset
    assert seen[:30] == [hit.image_id for hit in whole.hits]


def test_a_next_page_is_offered_exactly_while_images_remain(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    count = len(corpus)  # every image has a detected object, so every one ranks
    everything = index.search(query_for(corpus[5], 1, k=count))
    assert (len(everything.hits), everything.next_offset) == (count, None)
    all_but_one = index.search(query_for(corpus[5], 1, k=count - 1))
    assert (len(all_but_one.hits), all_but_one.next_offset) == (count - 1, count - 1)
    last = index.search(query_for(corpus[5], 1, k=7, offset=count - 3))
    assert (len(last.hits), last.next_offset) == (3, None)
    assert [hit.image_id for hit in last.hits] == [hit.image_id for hit in everything.hits[-3:]]


def test_duplicates_are_reported_and_not_stored_twice(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    before = index.stats()
    assert index.add(corpus[:2]) == {entry.document.image_id: WriteOutcome.DUPLICATE for entry in corpus[:2]}
    assert index.stats().images == before.images == len(corpus)


def test_get_and_vectors_return_what_was_stored(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    entry = corpus[11]
    document = index.get(entry.document.image_id)
    assert document == entry.document
    vectors = index.vectors(entry.document.image_id)
    assert vectors is not None
    np.testing.assert_allclose(vectors, entry.vectors, atol=1e-6)
    assert index.get("0" * 64) is None


def test_delete_removes_the_image_everywhere(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    victim = corpus[9]
    image_id = victim.document.image_id
    assert index.delete(image_id) is True
    assert index.get(image_id) is None
    assert index.vectors(image_id) is None
    assert image_id not in {hit.image_id for hit in index.search(query_for(victim, 1, k=40)).hits}
    stats = index.stats()
    assert stats.images == len(corpus) - 1
    assert stats.objects == sum(len(e.document.objects) - 1 for e in corpus if e is not victim)
    assert index.delete(image_id) is False


def test_browse_walks_newest_first_exactly_once(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    walked, cursor = [], None
    while True:
        page = index.browse(cursor, limit=9)
        walked += [document.image_id for document in page.images]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    newest_first = sorted(corpus, key=lambda entry: entry.document.created_at, reverse=True)
    assert walked == [entry.document.image_id for entry in newest_first]


def test_stats_count_images_objects_and_labels(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    stats = index.stats()
    detected = [obj for entry in corpus for obj in entry.document.objects if obj.kind is ObjectKind.OBJECT]
    assert stats.images == len(corpus)
    assert stats.objects == len(detected)
    assert stats.labels == {label: sum(obj.label == label for obj in detected) for label in {o.label for o in detected}}
    assert stats.model_id == MODEL_ID
    assert stats.dim == DIM
    assert stats.size_bytes > 0


def test_another_models_vectors_are_refused(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    with pytest.raises(ModelMismatch):
        index.search(VectorQuery(vector=corpus[0].vectors[0], model_id="another-model"))
    with pytest.raises(ModelMismatch):
        index.ensure("another-model", DIM)


def test_a_restart_keeps_the_data(open_index: IndexFactory, index: VectorIndex, corpus: list[IndexEntry]) -> None:
    before = index.search(query_for(corpus[2], 1, k=10))
    index.close()
    reopened = open_index()
    reopened.ensure(MODEL_ID, DIM)
    assert reopened.stats().images == len(corpus)
    after = reopened.search(query_for(corpus[2], 1, k=10))
    assert [hit.image_id for hit in after.hits] == [hit.image_id for hit in before.hits]


def test_dimension_of_a_query_is_checked(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    del corpus
    with pytest.raises(InvalidRequest, match=r"(?i)dim"):
        index.search(VectorQuery(vector=np.ones(DIM + 1, np.float32), model_id=MODEL_ID))


def test_optimize_keeps_every_answer(index: VectorIndex) -> None:
    corpus = make_corpus()
    for start in range(0, len(corpus), 10):  # four writes: four segments on Elasticsearch (refresh per write)
        index.add(corpus[start : start + 10])
    queries = [query_for(corpus[n], 1, k=10) for n in (2, 17, 33)]
    before = [[hit.image_id for hit in index.search(query).hits] for query in queries]
    said = index.optimize()
    assert ("merged into 1" in said) if isinstance(index, ElasticsearchIndex) else ("nothing to merge" in said), said
    assert [[hit.image_id for hit in index.search(query).hits] for query in queries] == before
    assert index.stats().images == len(corpus)
    if isinstance(index, ElasticsearchIndex):
        segments = index.client.indices.stats(index=index.alias, metric="segments")["_all"]["primaries"]["segments"]
        assert segments["count"] == 1


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", encode_cursor([1, "../../etc"]), encode_cursor({"offset": 3}), encode_cursor([[[[1]]]]), "A" * 5000],
)
def test_a_forged_browse_cursor_is_an_invalid_request(index: VectorIndex, cursor: str) -> None:
    index.add(make_corpus(count=3))
    with pytest.raises(InvalidRequest, match="cursor"):
        index.browse(cursor, limit=2)


def test_ping_answers_when_the_store_is_up(index: VectorIndex) -> None:
    index.ping()
    assert index.name in {"elasticsearch", "embedded"}


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda v: v[:-1], id="one vector short"),
        pytest.param(lambda v: v[:, :-1], id="another size"),
        pytest.param(lambda v: v * 2, id="not unit length"),
        pytest.param(lambda v: np.full_like(v, np.nan), id="not finite"),
    ],
)
def test_vectors_of_the_wrong_shape_or_length_are_refused(index: VectorIndex, spoil) -> None:
    entry = make_corpus(count=1)[0]
    with pytest.raises(InvalidRequest, match=r"shape|L2-normalised"):
        index.add([IndexEntry(entry.document, spoil(entry.vectors))])
    assert index.stats().images == 0


def test_a_query_vector_not_of_unit_length_is_refused(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    del corpus
    with pytest.raises(InvalidRequest, match="L2-normalised"):
        index.search(VectorQuery(vector=np.ones(DIM, np.float32), model_id=MODEL_ID))


def test_a_browse_cursor_of_the_other_back_end_is_refused(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    other = "embedded" if index.name == "elasticsearch" else "elasticsearch"
    foreign = encode_browse_cursor(other, 1, corpus[0].document.image_id)
    with pytest.raises(InvalidRequest, match="cursor"):
        index.browse(foreign, limit=2)
    own = index.browse(None, limit=2).next_cursor
    assert own is not None and len(index.browse(own, limit=2).images) == 2


def test_an_unknown_id_is_absent_everywhere(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    unknown = "f" * 64
    assert unknown not in {entry.document.image_id for entry in corpus}
    assert index.get(unknown) is None
    assert index.vectors(unknown) is None
    assert index.delete(unknown) is False


def test_tags_can_be_changed_and_filter_search_and_browse(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    index.add(corpus)
    tagged = [entry.document.image_id for entry in corpus[:3]]
    for image_id in tagged:
        updated = index.set_tags(image_id, ["paris", "2024"])
        assert updated is not None and updated.tags == ("paris", "2024")
    index.set_tags(corpus[3].document.image_id, ["paris"])
    assert index.set_tags("f" * 64, ["x"]) is None
    assert index.get(tagged[0]).tags == ("paris", "2024")
    np.testing.assert_allclose(index.vectors(tagged[0]), corpus[0].vectors, atol=1e-2)  # untouched by the update

    query = VectorQuery(corpus[5].vectors[1], MODEL_ID, k=10, tags=("paris", "2024"))
    assert {hit.image_id for hit in index.search(query).hits} == set(tagged)
    paris = index.search(VectorQuery(corpus[5].vectors[1], MODEL_ID, k=10, tags=("paris",)))
    assert {hit.image_id for hit in paris.hits} == {*tagged, corpus[3].document.image_id}
    assert index.search(VectorQuery(corpus[0].vectors[1], MODEL_ID, k=1)).hits[0].image_id == tagged[0]

    pages, cursor = [], None
    while True:
        page = index.browse(cursor, limit=2, tags=["paris", "2024"])
        pages += [document.image_id for document in page.images]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(pages) == sorted(tagged)
    assert len(index.browse(None, limit=100).images) == len(corpus)
    index.set_tags(tagged[0], [])
    assert index.get(tagged[0]).tags == ()


def test_documents_after_lists_every_image_once_in_id_order(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    listed, after = [], None
    while page := index.documents_after(after, 7):
        assert len(page) <= 7
        listed += page
        after = page[-1].image_id
    assert [document.image_id for document in listed] == sorted(entry.document.image_id for entry in corpus)
    expected = by_id(corpus)
    for document in listed:
        assert document.objects == expected[document.image_id].document.objects
        assert (document.source, document.tags) == (expected[document.image_id].document.source,
                                                    expected[document.image_id].document.tags)  # fmt: skip
    assert index.image_count() == len(corpus)


def test_get_many_returns_the_stored_ones(index: VectorIndex, corpus: list[IndexEntry]) -> None:
    wanted = [corpus[3].document.image_id, "f" * 64, corpus[5].document.image_id, corpus[3].document.image_id]
    found = index.get_many(wanted)
    assert set(found) == {corpus[3].document.image_id, corpus[5].document.image_id}
    assert found[corpus[5].document.image_id] == index.get(corpus[5].document.image_id)
    assert index.get_many([]) == {}
