"""The embedded index: nested-kNN semantics (one hit per image, its best objects) and storage.

Restarts and crash recovery are in test_embedded_recovery.py; its writer process uses the helpers here.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from imgsearch.errors import BackendUnavailable, InvalidRequest, ModelMismatch
from imgsearch.index.embedded import EmbeddedIndex
from imgsearch.index.types import ImageDocument, ImageObject, IndexEntry, SearchPage, VectorQuery, WriteOutcome
from pipeline.records import Box, ObjectKind

MODEL = "test-model"
DIM = 16
LABELS = ("cat", "dog", "car", "tree")
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]
# The float32 graph computes the same inner products as numpy, so rankings can be compared exactly.
EXACT_DTYPE = "f32"


def unit_rows(rng: np.random.Generator, count: int, dim: int = DIM) -> np.ndarray:
    rows = rng.standard_normal((count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def image_id(number: int) -> str:
    """A well-formed id (64 hex digits, as a sha256 is) that shows its number: 0007eeee…"""
    return f"{number:04d}".ljust(64, "e")


def make_entry(
    rng: np.random.Generator, number: int, detected: int = 3, model: str = MODEL, dim: int = DIM
) -> IndexEntry:
    """Image `image_id(number)`: object 0 the whole 640x480 image, then `detected` boxes with labels from LABELS."""
    objects = [ImageObject(0, ObjectKind.IMAGE, "image", 1.0, Box(0, 0, 640, 480))]
    for index in range(1, detected + 1):
        x1, y1 = (float(v) for v in rng.integers(0, 400, 2))
        label = LABELS[int(rng.integers(len(LABELS)))]
        objects.append(ImageObject(index, ObjectKind.OBJECT, label, 0.8, Box(x1, y1, x1 + 50 + index, y1 + 60)))
    document = ImageDocument(
        image_id=image_id(number),
        width=640,
        height=480,
        content_type="image/jpeg",
        byte_size=1000 + number,
        model_id=model,
        source="upload",
        created_at=START + timedelta(minutes=number),
        tags=("holiday",),
        objects=tuple(objects),
    )
    return IndexEntry(document, unit_rows(rng, len(objects), dim))


def make_entries(seed: int, count: int, dim: int = DIM) -> list[IndexEntry]:
    rng = np.random.default_rng(seed)
    return [make_entry(rng, number, detected=int(rng.integers(1, 6)), dim=dim) for number in range(count)]


def brute_force(entries: list[IndexEntry], query: VectorQuery) -> list[tuple[str, float]]:
    """Every image with an object passing the filters, by its best object's similarity (numpy, float32)."""
    best: dict[str, float] = {}
    for entry in entries:
        similarities = entry.vectors @ np.asarray(query.vector, dtype=np.float32)
        for obj, similarity in zip(entry.document.objects, similarities.tolist(), strict=True):
            if obj.kind not in query.kinds or (query.labels and obj.label not in query.labels):
                continue
            if entry.document.image_id in query.exclude_ids:
                continue
            if query.min_similarity is not None and similarity < query.min_similarity:
                continue
            best[entry.document.image_id] = max(similarity, best.get(entry.document.image_id, -2.0))
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


def query_for(vector: np.ndarray, **options: object) -> VectorQuery:
    return VectorQuery(vector=vector, model_id=MODEL, **options)  # type: ignore[arg-type]


def open_index(data_dir: Path, **options: object) -> EmbeddedIndex:
    index = EmbeddedIndex(data_dir, **options)  # type: ignore[arg-type]
    index.ensure(MODEL, DIM)
    return index


@pytest.fixture
def index(tmp_path: Path) -> Iterator[EmbeddedIndex]:
    opened = open_index(tmp_path / "index")
    yield opened
    opened.close()


@pytest.fixture
def exact_index(tmp_path: Path) -> Iterator[EmbeddedIndex]:
    opened = open_index(tmp_path / "exact", dtype=EXACT_DTYPE)
    yield opened
    opened.close()


def ranking(page: SearchPage) -> list[str]:
    return [hit.image_id for hit in page.hits]


def assert_same_ranking(page: SearchPage, expected: list[tuple[str, float]]) -> None:
    """Same images with the same similarities in the same order, except that float rounding may swap near ties."""
    found = {hit.image_id: hit.similarity for hit in page.hits}
    assert found.keys() == dict(expected).keys()
    assert found == pytest.approx(dict(expected), abs=1e-6)
    assert [hit.similarity for hit in page.hits] == pytest.approx([similarity for _, similarity in expected], abs=1e-6)


def test_each_image_appears_once_with_its_own_best_matching_objects(index: EmbeddedIndex) -> None:
    entries = make_entries(seed=1, count=80)
    index.add(entries)
    documents = {entry.document.image_id: entry for entry in entries}
    query_vector = unit_rows(np.random.default_rng(2), 1)[0]
    kinds = (ObjectKind.OBJECT, ObjectKind.IMAGE)
    page = index.search(query_for(query_vector, k=40, kinds=kinds, matches_per_image=10))

    assert len(page.hits) == 40
    assert len(set(ranking(page))) == len(page.hits)
    similarities = [hit.similarity for hit in page.hits]
    assert similarities == sorted(similarities, reverse=True)
    for hit in page.hits:
        entry = documents[hit.image_id]
        assert hit.similarity == hit.matches[0].similarity
        assert [m.similarity for m in hit.matches] == sorted((m.similarity for m in hit.matches), reverse=True)
        assert (hit.width, hit.height) == (640, 480)
        for match in hit.matches:
            stored = entry.document.objects[match.object_index]
            assert (match.box, match.label, match.kind) == (stored.box, stored.label, stored.kind)
            expected = float(entry.vectors[match.object_index] @ query_vector)
            assert match.similarity == pytest.approx(expected, abs=2e-3)  # float16 storage


def test_ranking_equals_brute_force_grouping(exact_index: EmbeddedIndex) -> None:
    entries = make_entries(seed=3, count=60)
    exact_index.add(entries)
    rng = np.random.default_rng(4)
    for query_vector in unit_rows(rng, 5):
        query = query_for(query_vector, k=15)
        expected = brute_force(entries, query)[:15]
        assert_same_ranking(exact_index.search(query), expected)


def test_matches_per_image_caps_the_matches(index: EmbeddedIndex) -> None:
    index.add(make_entries(seed=5, count=30))
    kinds = (ObjectKind.OBJECT, ObjectKind.IMAGE)
    page = index.search(query_for(unit_rows(np.random.default_rng(6), 1)[0], k=30, kinds=kinds, matches_per_image=2))
    assert all(1 <= len(hit.matches) <= 2 for hit in page.hits)


def test_equal_similarities_rank_by_image_id_then_object_position(exact_index: EmbeddedIndex) -> None:
    """Ties (the same photo's crops stored twice, a re-encoded copy) rank the way Elasticsearch's do, by id."""
    rng = np.random.default_rng(11)
    shared = unit_rows(rng, 1)[0]
    entries = []
    for number in (7, 3, 9, 1, 5):  # added out of id order, so insertion order cannot pass for id order
        entry = make_entry(rng, number, detected=3)
        vectors = entry.vectors.copy()
        vectors[[3, 1]] = shared  # two objects, later position first in the vectors' order of the graph
        entries.append(replace(entry, vectors=vectors))
    exact_index.add(entries)
    page = exact_index.search(query_for(shared, k=5, matches_per_image=2))
    assert ranking(page) == [image_id(number) for number in (1, 3, 5, 7, 9)]
    assert all([match.object_index for match in hit.matches] == [1, 3] for hit in page.hits)
    assert len({hit.similarity for hit in page.hits}) == 1


@pytest.mark.parametrize(
    "filters",
    [
        {"labels": ("dog",)},
        {"labels": ("cat", "tree")},
        {"kinds": (ObjectKind.IMAGE,)},
        {"kinds": (ObjectKind.OBJECT, ObjectKind.IMAGE), "labels": ("image",)},
        {"min_similarity": 0.3},
        {"exclude_ids": (image_id(1), image_id(2), image_id(3))},
    ],
)
def test_filters_hold_and_nothing_that_passes_is_missed(exact_index: EmbeddedIndex, filters: dict) -> None:
    entries = make_entries(seed=7, count=120)
    exact_index.add(entries)
    for query_vector in unit_rows(np.random.default_rng(8), 3):
        query = query_for(query_vector, k=200, matches_per_image=10, **filters)
        page = exact_index.search(query)
        for hit in page.hits:
            assert hit.image_id not in query.exclude_ids
            for match in hit.matches:
                assert match.kind in query.kinds
                assert not query.labels or match.label in query.labels
                assert query.min_similarity is None or match.similarity >= query.min_similarity
        assert_same_ranking(page, brute_force(entries, query))
        assert page.next_offset is None


def test_a_rare_label_fills_the_page_from_its_few_objects(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    entries = [make_entry(rng, number) for number in range(1500)]
    giraffe = ImageObject(3, ObjectKind.OBJECT, "giraffe", 0.9, Box(1, 1, 20, 20))
    for position in range(0, 1500, 100):  # 15 images with one giraffe each among 6,000 vectors
        document = entries[position].document
        entries[position] = IndexEntry(
            replace(document, objects=(*document.objects[:3], giraffe)), entries[position].vectors
        )
    rare = {entries[position].document.image_id for position in range(0, 1500, 100)}
    index = open_index(tmp_path / "rare")
    index.add(entries)
    query_vector = unit_rows(rng, 1)[0]
    first = index.search(query_for(query_vector, k=10, labels=("giraffe",)))
    assert len(first.hits) == 10 and set(ranking(first)) <= rare and first.next_offset == 10
    rest = index.search(query_for(query_vector, k=10, offset=10, labels=("giraffe",)))
    assert set(ranking(first) + ranking(rest)) == rare and rest.next_offset is None
    index.close()


def test_a_deep_page_of_a_selective_kind_widens_the_graph_search(tmp_path: Path) -> None:
    rng = np.random.default_rng(28)
    entries = [make_entry(rng, number) for number in range(1500)]  # a quarter of the 6,000 vectors are whole images
    index = open_index(tmp_path / "deep", dtype=EXACT_DTYPE)
    index.add(entries)
    found = 0
    for query_vector in unit_rows(rng, 5):
        query = query_for(query_vector, k=20, offset=100, kinds=(ObjectKind.IMAGE,))
        expected = {image_id for image_id, _ in brute_force(entries, query)[100:120]}
        page = index.search(query)
        assert len(page.hits) == 20 and page.next_offset == 120
        found += len(expected & set(ranking(page)))
    index.close()
    assert found / 100 >= 0.95


def test_offsets_walk_every_matching_image_once_in_ranking_order(index: EmbeddedIndex) -> None:
    entries = make_entries(seed=10, count=90)
    index.add(entries)
    query_vector = unit_rows(np.random.default_rng(11), 1)[0]
    walked: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = index.search(query_for(query_vector, k=7, offset=offset))
        walked += ranking(page)
        offset = page.next_offset
    assert len(walked) == len(set(walked)) == 90  # every image has at least one detected object
    assert walked == ranking(index.search(query_for(query_vector, k=100)))


def test_a_repeated_image_is_reported_as_duplicate_and_stored_once(index: EmbeddedIndex) -> None:
    entries = make_entries(seed=12, count=5)
    assert set(index.add(entries).values()) == {WriteOutcome.CREATED}
    again = make_entries(seed=99, count=6)  # same ids, other vectors: the stored ones must stay
    outcomes = index.add([*again, again[5]])
    assert outcomes == {image_id(n): WriteOutcome.DUPLICATE for n in range(5)} | {image_id(5): WriteOutcome.CREATED}
    assert index.stats().images == 6
    np.testing.assert_array_equal(index.vectors(image_id(0)), entries[0].vectors)
    objects = sum(len(e.document.objects) - 1 for e in [*entries, again[5]])
    assert index.stats().objects == objects


def test_delete_removes_the_document_its_objects_and_vectors(tmp_path: Path) -> None:
    entries = make_entries(seed=13, count=40)
    index = open_index(tmp_path / "delete")
    index.add(entries)
    victim = entries[0]
    query_vector = victim.vectors[1]  # finds the victim first while it is there
    assert ranking(index.search(query_for(query_vector, k=1))) == [victim.document.image_id]
    before = index.stats()

    assert index.delete(victim.document.image_id) is True
    assert index.delete(victim.document.image_id) is False
    assert index.get(victim.document.image_id) is None
    assert index.vectors(victim.document.image_id) is None
    kinds = (ObjectKind.OBJECT, ObjectKind.IMAGE)
    assert victim.document.image_id not in ranking(index.search(query_for(query_vector, k=50, kinds=kinds)))
    after = index.stats()
    assert after.images == before.images - 1
    assert after.objects == before.objects - sum(obj.kind is ObjectKind.OBJECT for obj in victim.document.objects)
    for label in victim.document.labels:
        expected = sum(obj.label == label for obj in victim.document.objects)
        assert after.labels.get(label, 0) == before.labels[label] - expected
    index.close()
    reopened = EmbeddedIndex(tmp_path / "delete")
    assert reopened.get(victim.document.image_id) is None
    assert victim.document.image_id not in ranking(reopened.search(query_for(query_vector, k=50, kinds=kinds)))
    reopened.close()


def test_browse_is_newest_first_and_the_cursor_visits_every_image_once(index: EmbeddedIndex) -> None:
    entries = make_entries(seed=14, count=23)
    same_time = [IndexEntry(replace(entry.document, created_at=START), entry.vectors) for entry in entries[:5]]
    index.add(same_time + entries[5:])
    seen: list[ImageDocument] = []
    cursor: str | None = None
    while True:
        page = index.browse(cursor, 4)
        seen += page.images
        cursor = page.next_cursor
        if cursor is None:
            break
    order = [(document.created_at, document.image_id) for document in seen]
    assert order == sorted(order, reverse=True)
    assert len({document.image_id for document in seen}) == len(seen) == 23
    assert seen[-1] == same_time[0].document


def test_browse_refuses_a_cursor_it_did_not_make(index: EmbeddedIndex) -> None:
    with pytest.raises(InvalidRequest):
        index.browse("not-a-cursor", 5)


def test_get_returns_the_document_as_added(index: EmbeddedIndex) -> None:
    entry = make_entries(seed=15, count=1)[0]
    index.add([entry])
    assert index.get(entry.document.image_id) == entry.document
    np.testing.assert_array_equal(index.vectors(entry.document.image_id), entry.vectors)


def test_one_index_directory_has_one_owner_at_a_time(index: EmbeddedIndex) -> None:
    with pytest.raises(BackendUnavailable):
        EmbeddedIndex(index.data_dir)
    index.close()
    index.close()  # closing twice is harmless
    EmbeddedIndex(index.data_dir).close()


def test_another_models_vectors_are_refused(index: EmbeddedIndex) -> None:
    with pytest.raises(ModelMismatch):
        index.ensure("other-model", DIM)
    with pytest.raises(ModelMismatch):
        index.ensure(MODEL, DIM * 2)
    with pytest.raises(ModelMismatch):
        index.add([make_entry(np.random.default_rng(22), 0, model="other-model")])
    with pytest.raises(ModelMismatch):
        index.search(VectorQuery(vector=np.ones(DIM, np.float32) / 4, model_id="other-model"))
    assert index.model_id() == MODEL and index.stats().images == 0


def test_an_index_before_ensure_is_empty(tmp_path: Path) -> None:
    index = EmbeddedIndex(tmp_path / "fresh")
    assert index.model_id() is None
    assert index.search(query_for(np.ones(DIM, np.float32) / 4)) == SearchPage([], None)
    assert index.stats().images == 0 and index.stats().dim is None
    index.close()


def test_top_ten_images_agree_with_exact_search(tmp_path: Path) -> None:
    """2,000 random unit vectors (500 images of 4 objects), 50 queries, default settings: recall@10 >= 0.98."""
    dim = 32
    rng = np.random.default_rng(24)
    entries = [make_entry(rng, number, detected=3, dim=dim) for number in range(500)]
    index = EmbeddedIndex(tmp_path / "recall")
    index.ensure(MODEL, dim)
    index.add(entries)
    kinds = (ObjectKind.OBJECT, ObjectKind.IMAGE)
    found = 0
    for query_vector in unit_rows(rng, 50, dim):
        query = query_for(query_vector, k=10, kinds=kinds)
        expected = {image_id for image_id, _ in brute_force(entries, query)[:10]}
        found += len(expected & set(ranking(index.search(query))))
    index.close()
    assert found / 500 >= 0.98


def test_concurrent_writers_and_searchers_see_a_consistent_index(index: EmbeddedIndex) -> None:
    entries = make_entries(seed=25, count=200)

    def write(batch: list[IndexEntry]) -> None:
        for start in range(0, len(batch), 5):
            index.add(batch[start : start + 5])

    def search(seed: int) -> None:
        for query_vector in unit_rows(np.random.default_rng(seed), 40):
            page = index.search(query_for(query_vector, k=10))
            assert len(set(ranking(page))) == len(page.hits)

    with ThreadPoolExecutor(max_workers=7) as pool:
        futures = [pool.submit(write, entries[i::4]) for i in range(4)]
        futures += [pool.submit(search, seed) for seed in range(3)]
        for future in futures:
            future.result()  # re-raises what failed in a worker
    assert index.stats().images == 200
    query = query_for(unit_rows(np.random.default_rng(27), 1)[0], k=300)
    assert len(index.search(query).hits) == 200
