"""Merging a query's overlapping detections into one box per object, and choosing the main object."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.decode import DecodedImage, ModelView
from pipeline.query_objects import MergeRule, main_object, merged
from pipeline.runner import AnalyzedImage


def analyzed(boxes: list[list[float]], scores: list[float], labels: list[str] | None = None) -> AnalyzedImage:
    image = Image.new("RGB", (400, 300))
    decoded = DecodedImage("0" * 64, image, 400, 300, "image/jpeg", 1000, 1280)
    boxes_xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return AnalyzedImage(decoded, ModelView(image, 1.0), boxes_xyxy / 2, boxes_xyxy,
                         np.asarray(scores, dtype=np.float32), labels or ["object"] * len(scores))  # fmt: skip


def test_copies_and_parts_of_one_object_become_its_largest_box() -> None:
    whole = [100, 50, 300, 250]
    query = analyzed(
        [[110, 60, 290, 240], whole, [120, 70, 200, 150], [104, 52, 296, 248]],  # a copy, the object, a part, a copy
        [0.9, 0.6, 0.7, 0.5],
    )
    result = merged(query)
    assert result.boxes_xyxy.tolist() == [whole]
    assert result.scores.tolist() == [np.float32(0.9)]  # the best score of the boxes merged into it
    assert result.view_boxes_xyxy.tolist() == [[50, 25, 150, 125]]  # still aligned with the original boxes


def test_separate_objects_and_other_labels_stay_apart() -> None:
    query = analyzed(
        [[0, 0, 100, 100], [200, 100, 380, 290], [220, 120, 260, 160]],
        [0.8, 0.7, 0.9],
        ["dog", "person", "cup"],  # the cup lies inside the person's box: another label, another object
    )
    result = merged(query)
    assert len(result.scores) == 3
    assert result.labels == ["cup", "dog", "person"]  # best score first


def test_a_part_does_not_fold_into_a_much_less_certain_box() -> None:
    boxes = [[100, 100, 300, 300], [120, 120, 180, 180]]
    assert len(merged(analyzed(boxes, [0.3, 0.9]), MergeRule(part_host_score=0.5)).scores) == 2
    assert len(merged(analyzed(boxes, [0.5, 0.9]), MergeRule(part_host_score=0.5)).scores) == 1
    assert len(merged(analyzed(boxes, [0.5, 0.9]), MergeRule(part_host_score=0.5, part_inside=1.01)).scores) == 2


def test_faint_boxes_next_to_a_confident_one_are_dropped() -> None:
    query = analyzed([[0, 0, 100, 100], [200, 200, 260, 260]], [0.9, 0.2])
    assert merged(query).boxes_xyxy.tolist() == [[0, 0, 100, 100]]
    assert len(merged(query, MergeRule(min_relative_score=0.2)).scores) == 2


def test_nothing_detected_stays_nothing() -> None:
    empty = analyzed([], [])
    assert len(merged(empty).scores) == 0
    assert main_object(empty.scores, empty.boxes_xyxy, 400, 300) is None


def test_the_main_object_by_score_or_by_prominence() -> None:
    scores = np.asarray([0.6, 0.5], dtype=np.float32)
    boxes = np.asarray([[0, 0, 20, 20], [50, 50, 350, 250]], dtype=np.float32)
    assert main_object(scores, boxes, 400, 300, "score") == 0
    assert main_object(scores, boxes, 400, 300, "prominence") == 1
