"""The objects a query offers: overlapping detections of one thing merged, and the one most likely meant.

A query's detections come from several passes (test-time augmentation: flipped and down-scaled copies), so one
object often comes back as a handful of boxes: near-copies of each other and boxes around its parts. Measured
on SceneBench's train split (100 one-object queries, starter models, `bench/query_objects.py`): 5 boxes per
query before, 1 after (mean 1.6), the object still among them at IoU >= 0.5 in 0.99 of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from pipeline import geometry
from pipeline.runner import AnalyzedImage

MainObjectRule = Literal["score", "prominence"]


@dataclass(frozen=True)
class MergeRule:
    """`min_relative_score`: boxes scoring below this share of the best score are dropped; boxes overlapping a
    kept one at IoU >= `same_iou` are copies of it; a box lying `part_inside` or more inside a larger kept box
    that scores at least `part_host_score` times its own is a part of that object. Only same-label boxes merge,
    so a detector that names things keeps a cup apart from the person holding it."""

    min_relative_score: float = 0.3
    same_iou: float = 0.5
    part_inside: float = 0.9
    part_host_score: float = 0.5


def merged(analyzed: AnalyzedImage, rule: MergeRule = MergeRule()) -> AnalyzedImage:
    """The detections with copies and parts folded into the largest box of their object, best score first.

    Each kept box is one the detector found (so it is cropped where it was found) and carries the best score
    of the boxes merged into it.
    """
    count = len(analyzed.scores)
    if count == 0:
        return analyzed
    scores = analyzed.scores.astype(np.float32)
    candidates = np.flatnonzero(scores >= rule.min_relative_score * float(scores.max()))
    box_areas = geometry.areas(analyzed.boxes_xyxy)
    kept: list[int] = []
    best_score: dict[int, float] = {}
    for position in sorted(candidates, key=lambda i: (-box_areas[i], -scores[i])):
        host = _host(analyzed, position, kept, rule)
        if host is None:
            kept.append(int(position))
            best_score[int(position)] = float(scores[position])
        else:
            best_score[host] = max(best_score[host], float(scores[position]))
    order = sorted(kept, key=lambda i: -best_score[i])
    return replace(
        analyzed,
        view_boxes_xyxy=analyzed.view_boxes_xyxy[order],
        boxes_xyxy=analyzed.boxes_xyxy[order],
        scores=np.asarray([best_score[i] for i in order], dtype=np.float32),
        labels=[analyzed.labels[i] for i in order],
    )


def _host(analyzed: AnalyzedImage, position: int, kept: list[int], rule: MergeRule) -> int | None:
    """The kept (larger) box this one is a copy or a part of, if any."""
    same_label = [k for k in kept if analyzed.labels[k] == analyzed.labels[position]]
    if not same_label:
        return None
    box = analyzed.boxes_xyxy[position]
    others = analyzed.boxes_xyxy[same_label]
    overlaps = geometry.iou(box, others)
    inside = geometry.inside_share(box, others)
    score = float(analyzed.scores[position])
    for k, overlap, share in zip(same_label, overlaps, inside, strict=True):
        if overlap >= rule.same_iou:
            return k
        if share >= rule.part_inside and float(analyzed.scores[k]) >= rule.part_host_score * score:
            return k
    return None


def main_object(
    scores: np.ndarray, boxes_xyxy: np.ndarray, width: int, height: int, rule: MainObjectRule = "score"
) -> int | None:
    """The position of the object a person most likely means, or None when there is none.

    "score": the most confident box. "prominence": confidence times the square root of the box's share of the
    image, so a large object beats a small one that is only a little more certain.
    """
    if len(scores) == 0:
        return None
    if rule == "score":
        return int(np.argmax(scores))
    shares = geometry.areas(np.asarray(boxes_xyxy, dtype=np.float32)) / float(width * height)
    return int(np.argmax(np.asarray(scores) * np.sqrt(shares)))
