"""The model id is stable for the same stack and changes when any component changes."""

from __future__ import annotations

import pytest

from pipeline.identity import model_id

DETECTOR = {"detector": "yolo11n.pt", "weights_sha256": "d" * 64, "image_size": 640}
EMBEDDER = {
    "embedder": "vit_small_patch14_dinov2.lvd142m",
    "weights_sha256": "e" * 64,
    "dim": 384,
    "preprocessing": {"input_size": [3, 224, 224], "mean": [0.485, 0.456, 0.406]},
}
PIPELINE = {"crop_margin": 0.1, "model_max_side": 1280}


def test_same_stack_same_id_and_readable_prefix() -> None:
    first = model_id(DETECTOR, EMBEDDER, PIPELINE)
    assert first == model_id(dict(DETECTOR), dict(EMBEDDER), dict(PIPELINE))
    assert first.startswith("vit_small_patch14_dinov2.lvd142m-384-")


@pytest.mark.parametrize(
    ("part", "key", "value"),
    [
        ("detector", "detector", "yolo11s.pt"),
        ("detector", "weights_sha256", "f" * 64),
        ("detector", "image_size", 1280),
        ("embedder", "embedder", "resnet50.a1_in1k"),
        ("embedder", "weights_sha256", "0" * 64),
        ("embedder", "dim", 2048),
        ("embedder", "preprocessing", {"input_size": [3, 256, 256]}),
        ("pipeline", "crop_margin", 0.2),
        ("pipeline", "model_max_side", 1024),
    ],
)
def test_any_component_change_changes_the_id(part: str, key: str, value: object) -> None:
    parts = {"detector": dict(DETECTOR), "embedder": dict(EMBEDDER), "pipeline": dict(PIPELINE)}
    parts[part][key] = value
    assert model_id(parts["detector"], parts["embedder"], parts["pipeline"]) != model_id(DETECTOR, EMBEDDER, PIPELINE)
