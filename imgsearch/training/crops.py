"""Labelled object crops from SceneBench train scenes, cut the way the pipeline cuts detections."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from imgsearch.scenebench import SceneConfig
from imgsearch.scenebench.dataset import benchmark_identities, item_rng, make_scene
from pipeline.crop import crop_boxes


def jitter_box(rng: np.random.Generator, box: tuple[int, int, int, int], amount: float) -> np.ndarray:
    """The box with each side moved by up to `amount` of the box's size, as a detector's box would be."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    shift = rng.uniform(-amount, amount, 4) * np.array([width, height, width, height])
    return np.array([[x1 + shift[0], y1 + shift[1], x2 + shift[2], y2 + shift[3]]], np.float32)


def scene_crops(
    seed: int,
    n_scenes: int,
    transform: Callable[[Image.Image], torch.Tensor],
    crops_per_instance: int = 2,
    margin: float = 0.1,
    jitter: float = 0.1,
    config: SceneConfig | None = None,
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]:
    """Transformed crops of every instance of n_scenes train scenes, their class indices, and the identities."""
    config = config or SceneConfig()
    identities = benchmark_identities(config)["train"]
    class_of = {identity: index for index, identity in enumerate(identities)}
    tensors: list[torch.Tensor] = []
    classes: list[int] = []
    for index in range(n_scenes):
        # Scenes come one at a time: a scene keeps its composition maps, too big to hold thousands of.
        rng = item_rng(seed, "embedder-scene", index)
        scene = make_scene(rng, f"crops-{index:05d}", "train", identities, config)
        for instance in scene.instances:
            for _ in range(crops_per_instance):
                boxes = jitter_box(rng, instance.box, jitter)
                tensors.append(transform(crop_boxes(scene.image, boxes, margin)[0]))
                classes.append(class_of[instance.identity])
    return torch.stack(tensors), torch.tensor(classes), identities
