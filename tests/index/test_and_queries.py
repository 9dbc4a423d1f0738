"""Contract: "this AND that" — images holding a match for every query part, on both back ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from imgsearch.errors import InvalidRequest
from imgsearch.index.base import MAX_QUERY_PARTS, VectorIndex
from imgsearch.index.types import ImageDocument, ImageObject, IndexEntry, VectorQuery
from pipeline.records import Box, ObjectKind
from tests.index.conftest import DIM, MODEL_ID

TOGETHER = 3
APART = 25
OTHERS = 20


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _gallery(seed: int = 0) -> tuple[list[IndexEntry], dict[str, np.ndarray], set[str]]:
    """Identities a and b together in a few images and apart in many; other identities fill the rest."""
    rng = np.random.default_rng(seed)
    centres = {name: rng.normal(size=DIM) for name in ("a", "b", "c", "d", "e", "image")}
    layouts = [["a", "b", "c"]] * TOGETHER + [["a", "c"]] * APART + [["b", "d"]] * APART + [["c", "d", "e"]] * OTHERS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries, together = [], set()
    for number, names in enumerate(layouts):
        image_id = f"{number:04d}" + "b" * 60
        order = list(rng.permutation(names))
        objects = [ImageObject(0, ObjectKind.IMAGE, "image", 1.0, Box(0, 0, 640, 480))]
        objects += [
            ImageObject(i + 1, ObjectKind.OBJECT, name, 0.9, Box(100 * i, 10, 100 * i + 90, 90))
            for i, name in enumerate(order)
        ]
        vectors = np.stack([_unit(centres[obj.label] + rng.normal(scale=0.5, size=DIM)) for obj in objects])
        document = ImageDocument(image_id, 640, 480, "image/jpeg", 1000, MODEL_ID, f"g/{number}.jpg",
                                 start + timedelta(minutes=number), (), tuple(objects))  # fmt: skip
        entries.append(IndexEntry(document, vectors))
        if {"a", "b"} <= set(names):
            together.add(image_id)
    queries = {name: _unit(centre + rng.normal(scale=0.3, size=DIM)) for name, centre in centres.items()}
    return entries, queries, together


def test_the_images_holding_both_come_first(index: VectorIndex) -> None:
    entries, queries, together = _gallery()
    index.add(entries)
    page = index.search(VectorQuery(queries["a"], MODEL_ID, k=10, kinds=(ObjectKind.OBJECT,),
                                    and_vectors=(queries["b"],)))  # fmt: skip
    assert {hit.image_id for hit in page.hits[:TOGETHER]} == together
    by_id = {entry.document.image_id: entry.document for entry in entries}
    for hit in page.hits[:TOGETHER]:
        best = {part: next(m for m in hit.matches if m.part == part) for part in (0, 1)}
        labels = {obj.index: obj.label for obj in by_id[hit.image_id].objects}
        assert labels[best[0].object_index] == "a" and labels[best[1].object_index] == "b"
        assert hit.similarity == pytest.approx((best[0].similarity + best[1].similarity) / 2, abs=1e-3)
    similarities = [hit.similarity for hit in page.hits]
    assert similarities == sorted(similarities, reverse=True)
    assert min(hit.similarity for hit in page.hits[:TOGETHER]) > max(hit.similarity for hit in page.hits[TOGETHER:])


def test_one_part_alone_ranks_differently(index: VectorIndex) -> None:
    """The AND query is not the first part's query: alone, "a" ranks its many images without "b" among the first."""
    entries, queries, together = _gallery()
    index.add(entries)
    page = index.search(VectorQuery(queries["a"], MODEL_ID, k=TOGETHER + APART, kinds=(ObjectKind.OBJECT,)))
    assert {m.part for hit in page.hits for m in hit.matches} == {0}
    assert not together <= {hit.image_id for hit in page.hits[:TOGETHER]}


def test_and_pages_walk_the_ranking_without_repeats(index: VectorIndex) -> None:
    entries, queries, _ = _gallery()
    index.add(entries)
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = index.search(VectorQuery(queries["a"], MODEL_ID, k=7, offset=offset, kinds=(ObjectKind.OBJECT,),
                                        and_vectors=(queries["b"],)))  # fmt: skip
        seen += [hit.image_id for hit in page.hits]
        offset = page.next_offset
    assert len(seen) == len(set(seen)) and len(seen) >= TOGETHER


def test_filters_apply_to_every_part(index: VectorIndex) -> None:
    entries, queries, together = _gallery()
    index.add(entries)
    excluded = sorted(together)[0]
    query = VectorQuery(queries["a"], MODEL_ID, k=10, kinds=(ObjectKind.OBJECT,), and_vectors=(queries["b"],),
                        exclude_ids=(excluded,), labels=("a", "b"))  # fmt: skip
    page = index.search(query)
    assert {hit.image_id for hit in page.hits[: TOGETHER - 1]} == together - {excluded}
    assert excluded not in {hit.image_id for hit in page.hits}
    assert {m.label for hit in page.hits for m in hit.matches} <= {"a", "b"}
    assert not {hit.image_id for hit in page.hits} & {e.document.image_id for e in entries[-OTHERS:]}


def test_too_many_parts_are_refused(index: VectorIndex) -> None:
    entries, queries, _ = _gallery()
    index.add(entries[:5])
    with pytest.raises(InvalidRequest, match="at most"):
        index.search(VectorQuery(queries["a"], MODEL_ID, and_vectors=(queries["b"],) * MAX_QUERY_PARTS))
