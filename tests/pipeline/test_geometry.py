"""Box arithmetic: scaling back to original pixels, padding, clamping, filtering, IoU."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import geometry


def boxes(*rows: list[float]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


def test_scaling_maps_a_downscaled_view_back_to_original_pixels() -> None:
    # A 4000x3000 photo seen by the models at 1280x960: scale 3.125.
    view_box = boxes([128, 96, 640, 480])
    np.testing.assert_allclose(geometry.scale_boxes(view_box, 3.125), boxes([400, 300, 2000, 1500]))


def test_padding_grows_by_a_share_of_each_side() -> None:
    padded = geometry.pad_boxes(boxes([100, 100, 200, 150]), margin=0.1, width=1000, height=1000)
    np.testing.assert_allclose(padded, boxes([90, 95, 210, 155]))


def test_padding_is_clamped_to_the_image() -> None:
    padded = geometry.pad_boxes(boxes([0, 5, 50, 100]), margin=0.5, width=60, height=120)
    np.testing.assert_allclose(padded, boxes([0, 0, 60, 120]))


def test_clamping_handles_boxes_partly_outside() -> None:
    clamped = geometry.clamp_boxes(boxes([-10, -5, 700, 500]), width=640, height=480)
    np.testing.assert_allclose(clamped, boxes([0, 0, 640, 480]))


def test_min_side_mask_needs_both_sides() -> None:
    mask = geometry.min_side_mask(boxes([0, 0, 20, 20], [0, 0, 20, 5], [0, 0, 15, 40]), min_side=16)
    assert mask.tolist() == [True, False, False]


def test_pixel_boxes_cover_the_float_box_and_are_never_empty() -> None:
    rects = geometry.pixel_boxes(boxes([10.2, 20.7, 30.1, 40.0], [5.5, 5.5, 5.5, 5.5]))
    assert rects.tolist() == [[10, 20, 31, 40], [5, 5, 6, 6]]


@pytest.mark.parametrize(
    ("other", "expected"),
    [([0, 0, 10, 10], 1.0), ([5, 0, 15, 10], 50 / 150), ([20, 20, 30, 30], 0.0)],
)
def test_iou(other: list[float], expected: float) -> None:
    assert geometry.iou(np.asarray([0, 0, 10, 10], np.float32), boxes(other))[0] == pytest.approx(expected)
