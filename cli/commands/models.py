"""`imgsearch models fetch|info`: get weights onto a connected machine, and show what the settings load."""

from __future__ import annotations

import json
from pathlib import Path

from imgsearch.settings import Settings


def fetch(settings: Settings) -> list[Path]:
    """Download the configured YOLO and timm weights into the model cache (needs the network)."""
    from pipeline.models import offline

    offline.allow_downloads()
    import timm
    from ultralytics.utils.downloads import attempt_download_asset

    fetched: list[Path] = []
    weights = settings.detector_weights
    if not weights.endswith((".yaml", ".yml")) and not Path(weights).is_file():
        target = settings.model_cache_dir / "ultralytics" / weights
        target.parent.mkdir(parents=True, exist_ok=True)
        fetched.append(Path(attempt_download_asset(target)))
    if settings.embedder_pretrained and settings.embedder_checkpoint is None:
        cache = settings.model_cache_dir / "timm"
        timm.create_model(settings.embedder_model, pretrained=True, num_classes=0, cache_dir=cache)
        fetched.append(cache)
    return fetched


def info(settings: Settings) -> dict[str, object]:
    """Load the configured models (offline) and report their identity."""
    from imgsearch.pipeline_factory import build_pipeline

    pipeline = build_pipeline(settings)
    pipeline.load()
    return {
        "model_id": pipeline.model_id,
        "dim": pipeline.dim,
        "detector": pipeline.detector.describe(),
        "embedder": pipeline.embedder.describe(),
        # Not part of the model id: every runtime offered gives the same boxes and vectors.
        "runtimes": {"detector": pipeline.detector.runtime, "embedder": pipeline.embedder.runtime},
    }


def print_info(settings: Settings) -> None:
    print(json.dumps(info(settings), indent=2))
