"""Query expansion on both back ends: the expanded vector, and the ranking it changes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageDocument, ImageObject, IndexEntry, VectorQuery
from imgsearch.query_expansion import expanded_query
from pipeline.records import Box, ObjectKind
from tests.index.conftest import DIM, MODEL_ID

AXES = np.eye(DIM, dtype=np.float32)
QUERY = AXES[0]
# A is the query's best match; B is far from the query but close to A; C sits between them for the query alone.
OBJECTS = {
    "a": 0.9 * AXES[0] + 0.436 * AXES[1],
    "b": 0.3 * AXES[0] + 0.954 * AXES[1],
    "c": 0.45 * AXES[0] + 0.893 * AXES[2],
}


def image_entry(name: str, number: int) -> IndexEntry:
    whole = AXES[4 + number]  # whole-image vectors stay out of the way of the object query
    vectors = np.stack([whole, OBJECTS[name] / np.linalg.norm(OBJECTS[name])]).astype(np.float32)
    objects = (
        ImageObject(0, ObjectKind.IMAGE, "image", 1.0, Box(0, 0, 100, 100)),
        ImageObject(1, ObjectKind.OBJECT, f"label-{name}", 0.9, Box(10, 10, 50, 50)),
    )
    document = ImageDocument(
        f"{number:064x}", 100, 100, "image/jpeg", 1000, MODEL_ID, f"{name}.jpg", datetime(2026, 1, 1, tzinfo=UTC),
        objects=objects,
    )  # fmt: skip
    return IndexEntry(document, vectors)


@pytest.fixture
def images(index: VectorIndex) -> dict[str, str]:
    entries = {name: image_entry(name, number) for number, name in enumerate(OBJECTS)}
    index.add(list(entries.values()))
    return {name: entry.document.image_id for name, entry in entries.items()}


def ranking(index: VectorIndex, query: VectorQuery, images: dict[str, str]) -> list[str]:
    names = {image_id: name for name, image_id in images.items()}
    return [names[hit.image_id] for hit in index.search(query).hits]


def test_expansion_averages_the_query_with_its_best_match(index: VectorIndex, images: dict[str, str]) -> None:
    query = VectorQuery(QUERY, MODEL_ID, k=3)
    expanded = expanded_query(index, query)
    wanted = QUERY + OBJECTS["a"] / np.linalg.norm(OBJECTS["a"])
    np.testing.assert_allclose(expanded.vector, wanted / np.linalg.norm(wanted), atol=1e-5)
    assert ranking(index, query, images) == ["a", "c", "b"]
    assert ranking(index, expanded, images) == ["a", "b", "c"]


def test_expansion_respects_the_query_filters(index: VectorIndex, images: dict[str, str]) -> None:
    # With A filtered out, C is the best match, and the expansion moves towards C.
    query = VectorQuery(QUERY, MODEL_ID, k=3, labels=("label-b", "label-c"))
    expanded = expanded_query(index, query)
    wanted = QUERY + OBJECTS["c"] / np.linalg.norm(OBJECTS["c"])
    np.testing.assert_allclose(expanded.vector, wanted / np.linalg.norm(wanted), atol=1e-5)
    excluding = VectorQuery(QUERY, MODEL_ID, k=3, exclude_ids=(images["a"],))
    np.testing.assert_allclose(expanded_query(index, excluding).vector, expanded.vector, atol=1e-5)


def test_a_query_that_matches_nothing_is_left_alone(index: VectorIndex, images: dict[str, str]) -> None:
    query = VectorQuery(QUERY, MODEL_ID, k=3, min_similarity=0.99)
    assert expanded_query(index, query) is query
