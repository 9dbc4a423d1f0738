"""Retrieval metrics on hand-worked rankings: known inputs give known numbers."""

from __future__ import annotations

import pytest

from imgsearch.evaluation.metrics import average_precision, box_iou, percentile_ms, recall_at


def test_average_precision_of_a_perfect_ranking_is_one() -> None:
    assert average_precision(["a", "b", "c"], {"a", "b"}) == 1.0


def test_average_precision_averages_precision_at_each_relevant_rank() -> None:
    # Relevant at ranks 1 and 3: (1/1 + 2/3) / 2.
    assert average_precision(["a", "x", "b", "y"], {"a", "b"}) == pytest.approx((1 + 2 / 3) / 2)


def test_relevant_images_never_returned_count_as_misses() -> None:
    # Two relevant, one found at rank 2: (1/2) / 2.
    assert average_precision(["x", "a", "y"], {"a", "b"}) == pytest.approx(0.25)


def test_average_precision_stops_at_k_and_divides_by_at_most_k() -> None:
    ranked = ["x", "a", "b", "c"]
    assert average_precision(ranked, {"a", "b", "c"}, k=2) == pytest.approx((1 / 2) / 2)
    # Three relevant but k = 1: one perfect rank-1 hit is the best possible, so AP@1 is 1.
    assert average_precision(["a", "b"], {"a", "b", "c"}, k=1) == 1.0


def test_no_relevant_hit_and_no_relevant_images_score_zero() -> None:
    assert average_precision(["x", "y"], {"a"}) == 0.0
    assert average_precision(["x"], set()) == 0.0


def test_recall_at_k_is_a_hit_rate() -> None:
    assert recall_at(["x", "a"], {"a"}, 1) == 0.0
    assert recall_at(["x", "a"], {"a"}, 2) == 1.0
    assert recall_at([], {"a"}, 10) == 0.0


def test_box_iou_of_known_boxes() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_percentiles_are_reported_in_milliseconds() -> None:
    assert percentile_ms([0.1, 0.2, 0.3], 50) == pytest.approx(200.0)
    assert percentile_ms([], 95) is None
