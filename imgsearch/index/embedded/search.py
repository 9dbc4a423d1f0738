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
    Elasticsearch's nested kNN clauses in a `bool` ranks them).

    Widened until the page's images are certain (Fagin's threshold algorithm): an image missing from a part's
    candidates scores at most that part's lowest candidate there, so once enough images hold every part and the
    last one wanted beats every such bound, no wider search could change the page, and every page of a query
    comes from one ranking.
    """
    wanted_images = paging.wanted(query)
    count = max(query.num_candidates or 0, wanted_images * CANDIDATES_PER_IMAGE)
    while True:
        found = [_candidates(ann, store, query, vector, count) for vector in part_vectors]
        per_part = [_by_image(part.ranked) for part in found]
        common = set(per_part[0]).intersection(*per_part[1:])
        score = {image_id: float(np.mean([part[image_id][0].similarity for part in per_part])) for image_id in common}
        image_ids = sorted(common, key=lambda image_id: (-score[image_id], image_id))
        if all(part.exhausted for part in found):
            break
        if len(image_ids) >= wanted_images and score[image_ids[wanted_images - 1]] >= _best_unsure(found, per_part):
            break
        count *= 2
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


def _best_unsure(found: list[Found], per_part: list[dict[str, list[Candidate]]]) -> float:
    """The highest score an image not holding every part among the candidates could still reach."""
    ceilings = [-np.inf if part.exhausted else part.lowest for part in found]
    best = float(np.mean(ceilings))  # an image seen in no part's candidates
    for image_id in set().union(*per_part):
        known = [part[image_id][0].similarity if image_id in part else ceiling
                 for part, ceiling in zip(per_part, ceilings, strict=True)]  # fmt: skip
        if len(known) and not all(image_id in part for part in per_part):
            best = max(best, float(np.mean(known)))
    return best


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
        found = _candidates(ann, store, query, query_vector, count)
        if found.exhausted or len({candidate.image_id for candidate in found.ranked}) >= wanted_images:
            return found.ranked
        count *= 2


class Found(NamedTuple):
    """One search of the graph: the candidates passing the filters, best first; whether asking for more would add
    none; and the lowest similarity it returned (anything it did not return scores at most that)."""

    ranked: list[Candidate]
    exhausted: bool
    lowest: float


def _candidates(ann: Index, store: Store, query: VectorQuery, query_vector: np.ndarray, count: int) -> Found:
    """The best `count` objects, those passing the filters best first."""
    keys, similarities, complete = _nearest(ann, store, query, query_vector, count)
    key_list: list[int] = keys.tolist()
    similarity_list = np.clip(similarities.astype(np.float64), -1.0, 1.0).tolist()
    ranked = passing(key_list, similarity_list, store.object_rows(key_list), object_filter(query))
    if query.tags:
        tagged = store.images_with_tags(list({candidate.image_id for candidate in ranked}), query.tags)
        ranked = [candidate for candidate in ranked if candidate.image_id in tagged]
    floor = query.min_similarity
    below_floor = floor is not None and bool(similarity_list) and similarity_list[-1] < floor
    ranked.sort(key=lambda candidate: (-candidate.similarity, candidate.image_id, candidate.row["idx"]))
    return Found(ranked, complete or below_floor, similarity_list[-1] if similarity_list else -1.0)


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
    exact = size < ALWAYS_EXACT_BELOW or scan_limit >= size
    # An exact scan still returns only the best `count`: reading every object's row for a page of twelve cost a
    # small index ~10 ms a search (1,950 objects). Too few after the filters, and the caller asks for twice as many.
    # usearch's beam is max(expansion_search, count): ef_search_default is the floor, num_candidates widens it.
    found = ann.search(query_vector, min(count, size), exact=exact, threads=1)
    return found.keys, 1.0 - found.distances, exact and count >= size


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
