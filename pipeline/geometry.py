"""Box arithmetic on (N, 4) float arrays of x1, y1, x2, y2: scaling, padding, clamping, filtering."""

from __future__ import annotations

import numpy as np


def scale_boxes(boxes_xyxy: np.ndarray, scale: float) -> np.ndarray:
    """Map boxes from a resized view back to original pixels (`scale` = original / view size)."""
    return boxes_xyxy.astype(np.float32) * np.float32(scale)


def clamp_boxes(boxes_xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip boxes to the image rectangle [0, width] x [0, height]."""
    clamped = boxes_xyxy.astype(np.float32).copy()
    clamped[:, [0, 2]] = clamped[:, [0, 2]].clip(0, width)
    clamped[:, [1, 3]] = clamped[:, [1, 3]].clip(0, height)
    return clamped


def pad_boxes(boxes_xyxy: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """Grow each box by `margin` of its own width/height on every side, then clamp to the image."""
    boxes = boxes_xyxy.astype(np.float32)
    pad_x = (boxes[:, 2] - boxes[:, 0]) * margin
    pad_y = (boxes[:, 3] - boxes[:, 1]) * margin
    padded = np.stack([boxes[:, 0] - pad_x, boxes[:, 1] - pad_y, boxes[:, 2] + pad_x, boxes[:, 3] + pad_y], axis=1)
    return clamp_boxes(padded, width, height)


def min_side_mask(boxes_xyxy: np.ndarray, min_side: float) -> np.ndarray:
    """True for boxes whose width and height both reach `min_side`."""
    return ((boxes_xyxy[:, 2] - boxes_xyxy[:, 0]) >= min_side) & ((boxes_xyxy[:, 3] - boxes_xyxy[:, 1]) >= min_side)


def pixel_boxes(boxes_xyxy: np.ndarray) -> np.ndarray:
    """Integer crop rectangles that cover each float box (floor the start, ceil the end, at least 1 px)."""
    starts = np.floor(boxes_xyxy[:, :2]).astype(np.int64)
    ends = np.maximum(np.ceil(boxes_xyxy[:, 2:]).astype(np.int64), starts + 1)
    return np.concatenate([starts, ends], axis=1)


def iou(box_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of one box against each of `boxes_b`."""
    x1 = np.maximum(box_a[0], boxes_b[:, 0])
    y1 = np.maximum(box_a[1], boxes_b[:, 1])
    x2 = np.minimum(box_a[2], boxes_b[:, 2])
    y2 = np.minimum(box_a[3], boxes_b[:, 3])
    intersection = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area_a = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1])
    areas_b = (boxes_b[:, 2] - boxes_b[:, 0]) * (boxes_b[:, 3] - boxes_b[:, 1])
    return intersection / np.maximum(area_a + areas_b - intersection, 1e-9)


def areas(boxes_xyxy: np.ndarray) -> np.ndarray:
    return (boxes_xyxy[:, 2] - boxes_xyxy[:, 0]).clip(0) * (boxes_xyxy[:, 3] - boxes_xyxy[:, 1]).clip(0)


def inside_share(box_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """How much of `box_a`'s area lies inside each of `boxes_b` (1.0: wholly inside)."""
    x1 = np.maximum(box_a[0], boxes_b[:, 0])
    y1 = np.maximum(box_a[1], boxes_b[:, 1])
    x2 = np.minimum(box_a[2], boxes_b[:, 2])
    y2 = np.minimum(box_a[3], boxes_b[:, 3])
    intersection = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    return intersection / max(float(areas(box_a[None, :])[0]), 1e-9)
