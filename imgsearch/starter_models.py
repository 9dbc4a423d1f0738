"""The committed starter models (imgsearch/starter): pipeline configuration read from their manifest."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from imgsearch.training.manifest import MANIFEST, STARTER_DIR, read_manifest
from pipeline.config import EmbedderConfig, PipelineConfig

# Detector settings the manifest's "serving" section may recommend (chosen on the train split): setting -> field.
SERVING_SETTINGS = {"detector_confidence": "confidence", "detector_iou": "iou", "detector_augment": "augment"}


def _entry(manifest: dict[str, Any], key: str) -> dict[str, Any]:
    entry = manifest.get(key)
    if not entry or not (STARTER_DIR / entry["file"]).is_file():
        raise FileNotFoundError(f"starter {key} weights are missing from {STARTER_DIR}: run `imgsearch train {key}`")
    return entry


def with_starter_models(config: PipelineConfig, recommended: Collection[str] = ()) -> PipelineConfig:
    """`config` with the detector and embedder replaced by the starter models (settings and limits kept).

    `recommended` names settings of SERVING_SETTINGS to take from the manifest's recommendations, where it has them.
    """
    manifest = read_manifest(MANIFEST)
    detector, embedder = _entry(manifest, "detector"), _entry(manifest, "embedder")
    serving = manifest.get("serving", {})
    chosen = {field: serving[key] for key, field in SERVING_SETTINGS.items() if key in recommended and key in serving}
    return dataclasses.replace(
        config,
        detector=dataclasses.replace(
            config.detector,
            weights=str(STARTER_DIR / detector["architecture"]),
            checkpoint=STARTER_DIR / detector["file"],
            image_size=int(detector["training"]["image_size"]),
            labels=(),
            # Measured (bench/runtime_choice.py, README): its small network gains nothing under ONNX Runtime
            # through the whole predictor (94 -> 89 images/s), so "auto" keeps it on PyTorch.
            runtime="pytorch" if config.detector.runtime == "auto" else config.detector.runtime,
            **chosen,
        ),
        embedder=EmbedderConfig(
            model_name=embedder["architecture"],
            image_size=int(embedder["image_size"]),
            checkpoint=STARTER_DIR / embedder["file"],
            pretrained=False,
            batch_size=config.embedder.batch_size,
            runtime=config.embedder.runtime,
        ),
    )


__all__ = ["with_starter_models"]
