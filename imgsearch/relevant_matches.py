"""Which matched boxes of a result to show: the ones that matter to the query, not every object that competed.

A result image is ranked by its best-matching object; the index also returns its next best ones, which are
mostly other things in the picture (similarity 0.1-0.3 next to the 0.8 of the match that counts). By default a
result keeps, per query part, its best match and those within `margin` of it that are not another box around
an object already kept (IoU >= `SAME_OBJECT_IOU`). On SceneBench's train split (100 object queries x 100
results, all matches returned, `bench/match_margin.py`) 173 of 34,004 further matches showed the query's
identity; a margin of 0.05 keeps 13 % of those and 14 % of the rest, median 1 box per result (0.1: 25 % and
41 %, median 2).
"""

from __future__ import annotations

import numpy as np

from imgsearch.index.types import ImageHit, Match, SearchPage
from pipeline import geometry

SAME_OBJECT_IOU = 0.5


def relevant_page(page: SearchPage, margin: float) -> SearchPage:
    return SearchPage([_relevant_hit(hit, margin) for hit in page.hits], page.next_offset)


def _relevant_hit(hit: ImageHit, margin: float) -> ImageHit:
    kept: list[Match] = []
    for part in sorted({match.part for match in hit.matches}):
        kept += relevant_matches([match for match in hit.matches if match.part == part], margin)
    return ImageHit(hit.image_id, hit.similarity, hit.width, hit.height, tuple(kept))


def relevant_matches(matches: list[Match], margin: float) -> list[Match]:
    """One part's matches, best first, cut to those that matter."""
    ranked = sorted(matches, key=lambda match: -match.similarity)
    kept: list[Match] = []
    for match in ranked:
        if kept and match.similarity < ranked[0].similarity - margin:
            break
        box = np.asarray(match.box.as_list(), dtype=np.float32)
        if kept and geometry.iou(box, np.asarray([k.box.as_list() for k in kept], dtype=np.float32)).max() >= (
            SAME_OBJECT_IOU
        ):
            continue
        kept.append(match)
    return kept
