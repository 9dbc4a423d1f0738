"""The model settings the benchmarks run with (run as scripts, so this sits beside them)."""

from __future__ import annotations


def model_settings(models: str, detector_confidence: float = 0.0001) -> dict[str, object]:
    """`starter`: the committed starter models. `real`: yolo11n + ViT-S/14 at their real architectures with random
    weights (nothing to download); a near-zero threshold makes the random detector return boxes (at most 4 an
    image, so the work per image matches a photo with that many objects)."""
    if models == "starter":
        return {"models": "starter"}
    return {
        "models": "pretrained",
        "detector_weights": "yolo11n.yaml",
        "embedder_pretrained": False,
        "detector_confidence": detector_confidence,
        "detector_max_objects": 4,
        "detector_min_box_side": 0,
    }
