"""Test inputs shared across packages: a configuration-built pipeline and generated images."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from imgsearch.starter_models import with_starter_models
from pipeline.config import DetectorConfig, EmbedderConfig, PipelineConfig

# The committed starter models, as the demo serves them. The tiny threshold keeps three boxes on any image, so
# tests about plumbing do not depend on what the detector makes of their drawings.
TEST_CONFIG = with_starter_models(
    PipelineConfig(
        detector=DetectorConfig(confidence=1e-9, max_objects=3, min_box_side=2),
        embedder=EmbedderConfig(batch_size=8),
        torch_threads=2,
        seed=0,
    )
)
# The real architectures with seeded random weights: for tests about how weights and seeds change things.
RANDOM_CONFIG = PipelineConfig(
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
