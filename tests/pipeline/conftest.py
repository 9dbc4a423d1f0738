"""Pipelines built from configuration only: no weights are downloaded or needed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipeline.models.detector import Detections
from pipeline.runner import Pipeline
from tests.fixtures import TEST_CONFIG


class RedDetector:
    """A scripted stand-in for plumbing tests: it 'detects' the bounding box of pure-red pixels."""

    augmented_calls = 0  # calls asked for test-time augmentation (which this stand-in ignores)

    def load(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"detector": "red-pixels"}

    def predict(self, images: list[Image.Image], augment: bool = False) -> list[Detections]:
        self.augmented_calls += augment
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
def red_pipeline(pipeline: Pipeline) -> Pipeline:
    config = replace(TEST_CONFIG, crop_margin=0.0)
    return Pipeline(config, RedDetector(), pipeline.embedder)
