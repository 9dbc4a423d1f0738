"""Search as Elasticsearch's nested kNN does it: object vectors compete, each image appears once, by its best object.

The graph is asked for more objects than images wanted, doubling while the filters leave too few images.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from usearch.index import Index

from imgsearch.index import paging
from imgsearch.index.embedded.schema import stored_object
from imgsearch.index.embedded.store import Store
from imgsearch.index.types import ImageHit, Match, SearchPage, VectorQuery

# Each image brings several objects and filters drop some, so ask the graph for more objects than images wanted.
CANDIDATES_PER_IMAGE = 4
# A scan reads vectors in order while the graph walk jumps around visiting ~2*M per candidate: scan a small index.
EXACT_SCAN_FACTOR = 8
# Below this many vectors every search is an exact scan (well under a millisecond), so the pages of one query
# never mix an approximate first page with an exact later one and show an image twice.
ALWAYS_EXACT_BELOW = 4096


class Candidate(NamedTuple):
    """An object that passed the filters; turned into a `Match` only if its image makes the page."""

    similarity: float
    image_id: str
    row: sqlite3.Row


Filter = Callable[[sqlite3.Row, float], bool]


def object_filter(query: VectorQuery) -> Filter:
    """The query's filters on one candidate object (Elasticsearch applies the same ones inside nested kNN)."""
    kinds = {kind.value for kind in query.kinds}
    labels = set(query.labels)
    excluded = set(query.exclude_ids)
    floor = query.min_similarity if query.min_similarity is not None else -np.inf

    def passes(row: sqlite3.Row, similarity: float) -> bool:
        if row["kind"] not in kinds or (labels and row["label"] not in labels):
            return False
        return row["image_id"] not in excluded and similarity >= floor

    return passes


def to_match(candidate: Candidate, part: int = 0) -> Match:
    obj = stored_object(candidate.row)
    return Match(obj.index, obj.kind, obj.label, obj.box, candidate.similarity, part)


def search_page(ann: Index, store: Store, query: VectorQuery, part_vectors: list[np.ndarray]) -> SearchPage:
    """The query's page of images; call with the graph's read lock held, so the page's images are all still there."""
    if len(part_vectors) == 1:
        return _page(query, _ranked_candidates(ann, store, query, part_vectors[0], paging.wanted(query)), store)
    return _and_page(ann, store, query, part_vectors)


def _page(query: VectorQuery, ranked: list[Candidate], store: Store) -> SearchPage:
    by_image = _by_image(ranked)
    image_ids = sorted(by_image, key=lambda image_id: (-by_image[image_id][0].similarity, image_id))
    page_ids = image_ids[query.offset : query.offset + query.k]
    sizes = store.image_sizes(page_ids)
    hits = [
        ImageHit(image_id, by_image[image_id][0].similarity, *sizes[image_id],
                 tuple(to_match(candidate) for candidate in by_image[image_id][: query.matches_per_image]))
        for image_id in page_ids
    ]  # fmt: skip
    return SearchPage(hits, paging.next_offset(query, len(image_ids) - query.offset))


def _and_page(ann: Index, store: Store, query: VectorQuery, part_vectors: list[np.ndarray]) -> SearchPage:
    """Images with a match for every part, ranked by the mean of each part's best similarity (as the sum of
    Elasticsearch's nested kNN clauses in a `bool` ranks them); widened until enough images hold every part."""
    wanted_images = paging.wanted(query)
    count = max(query.num_candidates or 0, wanted_images * CANDIDATES_PER_IMAGE)
    while True:
        found = [_candidates(ann, store, query, vector, count) for vector in part_vectors]
        per_part = [_by_image(ranked) for ranked, _ in found]
        common = set(per_part[0]).intersection(*per_part[1:])
        if len(common) >= wanted_images or all(exhausted for _, exhausted in found):
            break
        count *= 2
    score = {image_id: float(np.mean([part[image_id][0].similarity for part in per_part])) for image_id in common}
    image_ids = sorted(common, key=lambda image_id: (-score[image_id], image_id))
    page_ids = image_ids[query.offset : query.offset + query.k]
    sizes = store.image_sizes(page_ids)
    hits = [
        ImageHit(image_id, score[image_id], *sizes[image_id], tuple(
            to_match(candidate, part_number)
            for part_number, part in enumerate(per_part)
            for candidate in part[image_id][: query.matches_per_image]
        ))
        for image_id in page_ids
    ]  # fmt: skip
    return SearchPage(hits, paging.next_offset(query, len(image_ids) - query.offset))


def _by_image(ranked: list[Candidate]) -> dict[str, list[Candidate]]:
    by_image: dict[str, list[Candidate]] = {}
    for candidate in ranked:  # best first, so an image's first candidate is its best match
        by_image.setdefault(candidate.image_id, []).append(candidate)
    return by_image


def _ranked_candidates(
    ann: Index, store: Store, query: VectorQuery, query_vector: np.ndarray, wanted_images: int
) -> list[Candidate]:
    """Objects passing the filters, best first; widened until enough distinct images or nothing is left."""
    count = max(query.num_candidates or 0, wanted_images * CANDIDATES_PER_IMAGE)
    while True:
        ranked, exhausted = _candidates(ann, store, query, query_vector, count)
        if exhausted or len({candidate.image_id for candidate in ranked}) >= wanted_images:
            return ranked
        count *= 2


def _candidates(
    ann: Index, store: Store, query: VectorQuery, query_vector: np.ndarray, count: int
) -> tuple[list[Candidate], bool]:
    """The best `count` objects passing the filters, best first, and whether asking for more would add none."""
    keys, similarities, complete = _nearest(ann, store, query, query_vector, count)
    key_list: list[int] = keys.tolist()
    similarity_list = np.clip(similarities.astype(np.float64), -1.0, 1.0).tolist()
    ranked = passing(key_list, similarity_list, store.object_rows(key_list), object_filter(query))
    floor = query.min_similarity
    below_floor = floor is not None and bool(similarity_list) and similarity_list[-1] < floor
    ranked.sort(key=lambda candidate: (-candidate.similarity, candidate.image_id, candidate.row["idx"]))
    return ranked, complete or below_floor


def _nearest(
    ann: Index, store: Store, query: VectorQuery, query_vector: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Keys and similarities, best first, and whether they include every object that could pass the filters."""
    scan_limit = count * EXACT_SCAN_FACTOR
    if query.labels:
        # A rare label would make the graph walk widen many times: score its few objects directly instead.
        label_keys = store.keys_with_labels(query.kinds, query.labels, scan_limit + 1)
        if len(label_keys) <= scan_limit:
            keys = np.array(label_keys, dtype=np.uint64)
            stored = np.stack(ann.get(keys, dtype="f32")) if label_keys else np.empty((0, len(query_vector)))
            similarities = stored @ query_vector
            order = np.argsort(-similarities, kind="stable")
            return keys[order], similarities[order], True
    size = len(ann)
    exhaustive = size < ALWAYS_EXACT_BELOW or scan_limit >= size
    # usearch's beam is max(expansion_search, count): ef_search_default is the floor, num_candidates widens it.
    found = ann.search(query_vector, size if exhaustive else count, exact=exhaustive, threads=1)
    return found.keys, 1.0 - found.distances, exhaustive


def passing(
    keys: list[int], similarities: list[float], row_by_key: dict[int, sqlite3.Row], passes: Filter
) -> list[Candidate]:
    """The candidates whose rows are still stored and pass the filters, in the order given."""
    candidates = []
    for key, similarity in zip(keys, similarities, strict=True):
        row = row_by_key.get(key)
        if row is not None and passes(row, similarity):
            candidates.append(Candidate(similarity, row["image_id"], row))
    return candidates
