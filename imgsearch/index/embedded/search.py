"""Search as Elasticsearch's nested kNN does it: object vectors compete, each image appears once, by its best object.

The graph is asked for more objects than images wanted, doubling while the filters leave too few images.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np
from usearch.index import Index

from imgsearch.index import paging
from imgsearch.index.embedded.object_table import ABSENT, KINDS, ROW, ROW_VALUES, ObjectTable
from imgsearch.index.embedded.store import Store
from imgsearch.index.types import Box, ImageHit, Match, SearchPage, VectorQuery

# Each image brings several objects and filters drop some, so ask the graph for more objects than images wanted.
CANDIDATES_PER_IMAGE = 4
# A scan reads vectors in order while the graph walk jumps around visiting ~2*M per candidate: scan a small index.
EXACT_SCAN_FACTOR = 8
# Below this many vectors every search is an exact scan (well under a millisecond), so the pages of one query
# never mix an approximate first page with an exact later one and show an image twice.
ALWAYS_EXACT_BELOW = 4096


class Found(NamedTuple):
    """One search of the graph: the objects passing the filters, best first (ties by image id, then position), as
    their similarities and their object-table rows; whether asking for more would add none; and the lowest
    similarity the graph returned (anything it did not return scores at most that).

    Arrays and lists, not an object per candidate: a page needs objects only for its own images' matches, and
    building one for each of the ~44 candidates cost more than the graph walk at 384-d (`bench/embedded_knn.py`).
    """

    listed: list[float]  # similarities, as Python floats
    rows: np.ndarray  # object_table.ROW
    slots: list[int]  # rows["slot"], as Python ints
    exhausted: bool
    lowest: float

    def by_image(self, per_image: int) -> dict[int, list[int]]:
        """Image slot -> the positions in `rows` of its first `per_image` candidates; images in ranking order."""
        grouped: dict[int, list[int]] = {}
        for number, slot in enumerate(self.slots):
            numbers = grouped.get(slot)
            if numbers is None:
                grouped[slot] = [number]
            elif len(numbers) < per_image:
                numbers.append(number)
        return grouped


class Sources(NamedTuple):
    """What a search reads: the graph, the objects' facts in memory, and SQLite for tags and labels."""

    ann: Index
    size: int  # len(ann), asked once a search
    table: ObjectTable
    store: Store


def search_page(sources: Sources, query: VectorQuery, part_vectors: list[np.ndarray]) -> SearchPage:
    """The query's page of images; call with the graph's read lock held, so the page's images are all still there."""
    if len(part_vectors) == 1:
        return _page(sources.table, query, *_ranked(sources, query, part_vectors[0]))
    return _and_page(sources, query, part_vectors)


def _page(table: ObjectTable, query: VectorQuery, found: Found, by_image: dict[int, list[int]]) -> SearchPage:
    ranking = list(by_image)
    image_ids, listed, hits = table.image_ids, found.listed, []
    for slot in ranking[query.offset : query.offset + query.k]:
        numbers = by_image[slot]
        matches, width, height = _matches(table, found, numbers, 0)
        hits.append(ImageHit(image_ids[slot], listed[numbers[0]], width, height, tuple(matches)))
    return SearchPage(hits, paging.next_offset(query, len(ranking) - query.offset))


def _matches(table: ObjectTable, found: Found, numbers: list[int], part: int) -> tuple[list[Match], int, int]:
    """The candidates at these positions of `found` (all of one image) as matches, and the image's width and
    height."""
    labels, rows, listed, values_at = table.labels, found.rows, found.listed, ROW_VALUES.unpack_from
    row_size, matches, width, height = ROW.itemsize, [], 0, 0
    for number in numbers:
        _, kind, position, label, x1, y1, x2, y2, width, height = values_at(rows, number * row_size)
        matches.append(Match(position, KINDS[kind], labels[label], Box(x1, y1, x2, y2), listed[number], part))
    return matches, width, height


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
    table = sources.table
    while True:
        found = [_candidates(sources, query, vector, count) for vector in part_vectors]
        grouped = [part.by_image(query.matches_per_image) for part in found]
        per_part = [_best_by_image(part, by_image, table) for part, by_image in zip(found, grouped, strict=True)]
        common = set(per_part[0]).intersection(*per_part[1:])
        score = {image_id: float(np.mean([part[image_id] for part in per_part])) for image_id in common}
        image_ids = sorted(common, key=lambda image_id: (-score[image_id], image_id))
        if all(part.exhausted for part in found):
            break
        if len(image_ids) >= wanted_images and score[image_ids[wanted_images - 1]] >= _best_unsure(found, per_part):
            break
        count *= 2
    page_ids = image_ids[query.offset : query.offset + query.k]
    hits = []
    for image_id, slot in zip(page_ids, table.slots_of(page_ids).tolist(), strict=True):
        matches: list[Match] = []
        for part_number, (part, by_image) in enumerate(zip(found, grouped, strict=True)):
            part_matches, width, height = _matches(table, part, by_image[slot], part_number)
            matches += part_matches
        hits.append(ImageHit(image_id, score[image_id], width, height, tuple(matches)))
    return SearchPage(hits, paging.next_offset(query, len(image_ids) - query.offset))


def _best_by_image(found: Found, by_image: dict[int, list[int]], table: ObjectTable) -> dict[str, float]:
    """Each image's best similarity among the candidates."""
    return {table.image_ids[slot]: found.listed[numbers[0]] for slot, numbers in by_image.items()}


def _best_unsure(found: list[Found], per_part: list[dict[str, float]]) -> float:
    """The highest score an image not holding every part among the candidates could still reach."""
    ceilings = [-np.inf if part.exhausted else part.lowest for part in found]
    best = float(np.mean(ceilings))  # an image seen in no part's candidates
    for image_id in set().union(*per_part):
        known = [part.get(image_id, ceiling) for part, ceiling in zip(per_part, ceilings, strict=True)]
        if not all(image_id in part for part in per_part):
            best = max(best, float(np.mean(known)))
    return best


def _ranked(sources: Sources, query: VectorQuery, query_vector: np.ndarray) -> tuple[Found, dict[int, list[int]]]:
    """Objects passing the filters, best first, and grouped by image; widened until the page's images (and one
    more) are there or nothing is left."""
    wanted_images = paging.wanted(query)
    count = max(query.num_candidates or 0, wanted_images * CANDIDATES_PER_IMAGE)
    while True:
        found = _candidates(sources, query, query_vector, count)
        by_image = found.by_image(query.matches_per_image)
        if found.exhausted or len(by_image) >= wanted_images:
            return found, by_image
        count *= 2


def _candidates(sources: Sources, query: VectorQuery, query_vector: np.ndarray, count: int) -> Found:
    """The best `count` objects, those passing the filters best first (the filters Elasticsearch applies inside
    nested kNN, as vector operations on the candidates' rows).

    Everything here runs on a cold cache after the graph walk, where each array operation costs microseconds, so
    the usual search (nothing filtered out, no ties) reads two short lists and skips the rest.
    """
    keys, listed, complete = _nearest(sources, query, query_vector, count)
    table = sources.table
    rows = table.picked(keys)
    slots = rows["slot"].tolist()  # a page reads the rest of only its own images' rows
    if listed and (listed[0] > 1.0 or listed[-1] < -1.0):  # float rounding (best first)
        listed = [min(1.0, max(-1.0, similarity)) for similarity in listed]
    lowest = listed[-1] if listed else -1.0
    floor = query.min_similarity
    exhausted = complete or (floor is not None and bool(listed) and lowest < floor)
    keep = _kept(sources, query, listed, rows, slots)
    if keep is not None:
        rows, listed = rows[keep], [listed[number] for number in np.flatnonzero(keep).tolist()]
        slots = rows["slot"].tolist()
    if any(map(operator.ge, listed[1:], listed)):  # two equal similarities: rank those by image id, position
        order = _tie_order(table, listed, slots, rows["position"].tolist())
        rows, listed, slots = rows[order], [listed[number] for number in order], [slots[number] for number in order]
    return Found(listed, rows, slots, exhausted, lowest)


def _kept(sources: Sources, query: VectorQuery, listed: list[float], rows: np.ndarray,
          slots: list[int]) -> np.ndarray | None:  # fmt: skip
    """Which candidates pass the filters; None when none could be dropped (the usual search: no array work)."""
    table = sources.table
    masks = []
    if slots and min(slots) == ABSENT:  # a key removed since the graph was searched (or never in the table)
        masks.append(rows["slot"] != ABSENT)
    if len(set(query.kinds)) < len(KINDS):
        masks.append(table.kind_mask(query.kinds)[rows["kind"]])
    if query.labels:
        masks.append(np.isin(rows["label"], table.label_codes(query.labels)))
    if query.exclude_ids:
        masks.append(~np.isin(rows["slot"], table.slots_of(query.exclude_ids)))
    if query.min_similarity is not None:
        masks.append(np.array(listed) >= query.min_similarity)
    if query.tags:  # last: SQLite is asked only about the images the other filters kept
        kept = np.logical_and.reduce(masks) if masks else np.ones(len(slots), dtype=bool)
        kept_slots = np.unique(rows["slot"][kept]).tolist()
        tagged = sources.store.images_with_tags([table.image_ids[slot] for slot in kept_slots], query.tags)
        masks.append(np.isin(rows["slot"], table.slots_of(tagged)))
    return np.logical_and.reduce(masks) if masks else None


def _tie_order(table: ObjectTable, similarities: list[float], slots: list[int], positions: list[int]) -> list[int]:
    """The order ranking objects by similarity, then image id, then position: needed only when two similarities
    are equal (the graph returns them best first), which is rare enough to sort in Python."""
    image_ids = table.image_ids
    sort_keys = list(zip([-similarity for similarity in similarities], [image_ids[slot] for slot in slots], positions,
                         strict=True))  # fmt: skip
    return sorted(range(len(sort_keys)), key=sort_keys.__getitem__)


def _nearest(
    sources: Sources, query: VectorQuery, query_vector: np.ndarray, count: int
) -> tuple[np.ndarray, list[float], bool]:
    """Keys and similarities (as Python floats), best first, and whether they include every object that could pass
    the filters."""
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
            return keys[order], similarities[order].tolist(), True
    size = sources.size
    exact = size < ALWAYS_EXACT_BELOW or scan_limit >= size
    # An exact scan still returns only the best `count`: reading every object's row for a page of twelve cost a
    # small index ~10 ms a search (1,950 objects). Too few after the filters, and the caller asks for twice as many.
    # usearch's beam is max(expansion_search, count): ef_search_default is the floor, num_candidates widens it.
    found = ann.search(query_vector, min(count, size), exact=exact, threads=1)
    # Cold after the walk, an array operation costs more than this list's 44 subtractions.
    return found.keys, [1.0 - distance for distance in found.distances.tolist()], exact and count >= size
