"""Search as Elasticsearch's nested kNN does it: object vectors compete, each image appears once, by its best object.

The graph is asked for more objects than images wanted, doubling while the filters leave too few images.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from usearch.index import Index

from imgsearch.index import paging
from imgsearch.index.embedded.object_table import ABSENT, ObjectTable
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
    key: int
    position: int  # among its image's objects


class Sources(NamedTuple):
    """What a search reads: the graph, the objects' facts in memory, and SQLite for tags and labels."""

    ann: Index
    table: ObjectTable
    store: Store


def to_match(table: ObjectTable, candidate: Candidate, part: int = 0) -> Match:
    obj = table.image_object(candidate.key)
    return Match(obj.index, obj.kind, obj.label, obj.box, candidate.similarity, part)


def search_page(sources: Sources, query: VectorQuery, part_vectors: list[np.ndarray]) -> SearchPage:
    """The query's page of images; call with the graph's read lock held, so the page's images are all still there."""
    if len(part_vectors) == 1:
        return _page(query, _ranked_candidates(sources, query, part_vectors[0], paging.wanted(query)), sources.table)
    return _and_page(sources, query, part_vectors)


def _page(query: VectorQuery, ranked: list[Candidate], table: ObjectTable) -> SearchPage:
    by_image = _by_image(ranked)
    image_ids = sorted(by_image, key=lambda image_id: (-by_image[image_id][0].similarity, image_id))
    page_ids = image_ids[query.offset : query.offset + query.k]
    hits = [
        ImageHit(image_id, by_image[image_id][0].similarity, *table.size_of(image_id),
                 tuple(to_match(table, candidate) for candidate in by_image[image_id][: query.matches_per_image]))
        for image_id in page_ids
    ]  # fmt: skip
    return SearchPage(hits, paging.next_offset(query, len(image_ids) - query.offset))


def _and_page(sources: Sources, query: VectorQuery, part_vectors: list[np.ndarray]) -> SearchPage:
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
        found = [_candidates(sources, query, vector, count) for vector in part_vectors]
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
    hits = [
        ImageHit(image_id, score[image_id], *sources.table.size_of(image_id), tuple(
            to_match(sources.table, candidate, part_number)
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
    sources: Sources, query: VectorQuery, query_vector: np.ndarray, wanted_images: int
) -> list[Candidate]:
    """Objects passing the filters, best first; widened until enough distinct images or nothing is left."""
    count = max(query.num_candidates or 0, wanted_images * CANDIDATES_PER_IMAGE)
    while True:
        found = _candidates(sources, query, query_vector, count)
        if found.exhausted or len({candidate.image_id for candidate in found.ranked}) >= wanted_images:
            return found.ranked
        count *= 2


class Found(NamedTuple):
    """One search of the graph: the candidates passing the filters, best first; whether asking for more would add
    none; and the lowest similarity it returned (anything it did not return scores at most that)."""

    ranked: list[Candidate]
    exhausted: bool
    lowest: float


def _candidates(sources: Sources, query: VectorQuery, query_vector: np.ndarray, count: int) -> Found:
    """The best `count` objects, those passing the filters best first (the filters Elasticsearch applies inside
    nested kNN, as vector operations over the object table)."""
    keys, similarities, complete = _nearest(sources, query, query_vector, count)
    table = sources.table
    keys = keys.astype(np.int64)
    similarities = np.clip(similarities.astype(np.float64), -1.0, 1.0)
    slots = table.slots(keys)
    stored = slots != ABSENT  # a key removed since the graph was searched (or never in the table)
    safe_keys = np.where(stored, keys, 0)
    keep = stored & table.kind_mask(query.kinds)[table.kind[safe_keys]]
    if query.labels:
        keep &= np.isin(table.label[safe_keys], table.label_codes(query.labels))
    if query.exclude_ids:
        keep &= ~np.isin(slots, table.slots_of(query.exclude_ids))
    floor = query.min_similarity
    if floor is not None:
        keep &= similarities >= floor
    chosen = np.flatnonzero(keep)
    image_ids, positions = table.image_ids, table.position[keys[chosen]].tolist()
    ranked = [Candidate(similarity, image_ids[slot], key, position) for similarity, slot, key, position
              in zip(similarities[chosen].tolist(), slots[chosen].tolist(), keys[chosen].tolist(), positions,
                     strict=True)]  # fmt: skip
    if query.tags:
        tagged = sources.store.images_with_tags(list({candidate.image_id for candidate in ranked}), query.tags)
        ranked = [candidate for candidate in ranked if candidate.image_id in tagged]
    lowest = float(similarities[-1]) if len(similarities) else -1.0
    below_floor = floor is not None and bool(len(similarities)) and lowest < floor
    ranked.sort(key=lambda candidate: (-candidate.similarity, candidate.image_id, candidate.position))
    return Found(ranked, complete or below_floor, lowest)


def _nearest(
    sources: Sources, query: VectorQuery, query_vector: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Keys and similarities, best first, and whether they include every object that could pass the filters."""
    scan_limit = count * EXACT_SCAN_FACTOR
    ann = sources.ann
    if query.labels:
        # A rare label would make the graph walk widen many times: score its few objects directly instead.
        label_keys = sources.store.keys_with_labels(query.kinds, query.labels, scan_limit + 1)
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
