"""Pipelines built from configuration only: no weights are downloaded or needed."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.config import DetectorConfig, EmbedderConfig, PipelineConfig
from pipeline.models.detector import Detections
from pipeline.runner import Pipeline

# Random YOLO weights score every anchor near zero; a tiny threshold still exercises detection and NMS.
TEST_CONFIG = PipelineConfig(
    detector=DetectorConfig(weights="yolo11n.yaml", image_size=320, confidence=1e-9, max_objects=3, min_box_side=2),
    embedder=EmbedderConfig(model_name="test_vit", image_size=None, pretrained=False, batch_size=8),
    torch_threads=2,
    seed=0,
)


def jpeg_bytes(image: Image.Image, **save_options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, **save_options)
    return buffer.getvalue()


def scene(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A noisy background with a few filled shapes."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = rng.integers(0, width - 80), rng.integers(0, height - 80)
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse((int(x), int(y), int(x) + 70, int(y) + 60), fill=colour)
    return image


class RedDetector:
    """A scripted stand-in for plumbing tests: it 'detects' the bounding box of pure-red pixels."""

    def load(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"detector": "red-pixels"}

    def predict(self, images: list[Image.Image]) -> list[Detections]:
        found = []
        for image in images:
            pixels = np.asarray(image).astype(int)
            red = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 60) & (pixels[:, :, 2] < 60)
            if not red.any():
                found.append(Detections.empty())
                continue
            ys, xs = np.nonzero(red)
            box = np.asarray([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
            found.append(Detections(box, np.asarray([0.9], np.float32), ["red"]))
        return found


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    built = Pipeline.from_config(TEST_CONFIG)
    built.load()
    return built


@pytest.fixture(scope="session")
def red_pipeline(pipeline: Pipeline) -> Pipeline:
    config = replace(TEST_CONFIG, crop_margin=0.0)
    return Pipeline(config, RedDetector(), pipeline.embedder)
