"""Retrieval metrics over ranked image ids (pure functions; each is documented with its exact definition)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def average_precision(ranked: Sequence[str], relevant: set[str], k: int = 100) -> float:
    """AP@k: the mean over the first k ranks of precision at each relevant hit, divided by min(|relevant|, k).

    A query with no relevant images scores 0 (it cannot be answered; callers should not pose such queries).
    """
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, image_id in enumerate(ranked[:k], start=1):
        if image_id in relevant:
            hits += 1
            total += hits / rank
    return total / min(len(relevant), k)


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Recall@k as metric-learning papers define it: 1 when a relevant image is among the first k, else 0."""
    return float(any(image_id in relevant for image_id in ranked[:k]))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 for disjoint or empty boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union if union > 0 else 0.0


def percentile_ms(seconds: Sequence[float], q: float) -> float | None:
    """The q-th percentile of durations given in seconds, in milliseconds (None for no durations)."""
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if len(seconds) else None
