"""SceneBench: labelled scenes of emoji instances plus object and scene queries, all determined by one seed."""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from imgsearch.scenebench.backgrounds import random_background
from imgsearch.scenebench.compose import Composition, compose_scene
from imgsearch.scenebench.glyphs import (
    augment_glyph,
    identity_codepoints,
    render_glyph,
    sample_style,
    train_only_codepoints,
)

Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")
# Rotating by up to 30 degrees grows a glyph's box by at most cos 30 + sin 30 < 1.37.
_ROTATION_GROWTH = 1.37


@dataclass(frozen=True)
class SceneConfig:
    """Sizes and ranges of the generator; every field has the benchmark's default."""

    width: int = 640
    height: int = 480
    min_instances: int = 1
    max_instances: int = 6
    min_glyph: int = 48
    max_glyph: int = 200
    max_angle: float = 30.0
    min_visible: float = 0.5
    min_jpeg_quality: int = 60
    max_jpeg_quality: int = 95
    query_size: int = 320
    photo_share: float = 0.4
    train_fraction: float = 0.7
    split_seed: int = 0  # identity split; kept apart from the scene seed so splits agree across benchmark seeds
    train_only_identities: bool = True  # add glyphs.train_only_codepoints() to the train split


@dataclass(frozen=True)
class Instance:
    """Ground truth of one object: its identity (a code point) and visible box (x1, y1, x2, y2), end exclusive."""

    identity: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Scene:
    """A generated scene: the JPEG as written, its decoded image, and its instances in drawing order."""

    scene_id: str
    split: Split
    image: Image.Image = field(repr=False, compare=False)
    jpeg_bytes: bytes = field(repr=False)
    instances: tuple[Instance, ...]
    composition: Composition = field(repr=False, compare=False)  # pre-JPEG debug truth: placements, owner map


@dataclass(frozen=True)
class Query:
    """A query image; relevant scenes are those of its split that contain `identity`."""

    query_id: str
    kind: Literal["object", "scene"]
    split: Split
    identity: int
    image: Image.Image = field(repr=False, compare=False)
    jpeg_bytes: bytes = field(repr=False)
    relevant_scene_ids: tuple[str, ...]
    composition: Composition = field(repr=False, compare=False)


@dataclass(frozen=True)
class SceneBench:
    """A generated benchmark: identity split, gallery scenes per split, and queries."""

    seed: int
    config: SceneConfig
    identities: dict[str, tuple[int, ...]]
    train_scenes: tuple[Scene, ...]
    test_scenes: tuple[Scene, ...]
    queries: tuple[Query, ...]

    def scenes(self, split: Split) -> tuple[Scene, ...]:
        """The gallery scenes of one split."""
        return self.train_scenes if split == "train" else self.test_scenes

    def write(self, folder: Path) -> Path:
        """Save scenes/*.jpg, queries/*.jpg and ground_truth.json under folder; returns the JSON's path."""
        from imgsearch.scenebench.writer import write_bench

        return write_bench(self, folder)


def split_identities(identities: tuple[int, ...], seed: int, train_fraction: float) -> dict[str, tuple[int, ...]]:
    """Disjoint train/test identity sets from a seeded shuffle, each sorted."""
    order = np.random.default_rng(seed).permutation(len(identities))
    n_train = round(len(identities) * train_fraction)
    shuffled = [identities[i] for i in order]
    return {"train": tuple(sorted(shuffled[:n_train])), "test": tuple(sorted(shuffled[n_train:]))}


def benchmark_identities(config: SceneConfig) -> dict[str, tuple[int, ...]]:
    """The benchmark's identities per split: the seeded split, plus the train-only identities when configured."""
    identities = split_identities(identity_codepoints(), config.split_seed, config.train_fraction)
    if config.train_only_identities:
        identities["train"] = tuple(sorted(identities["train"] + train_only_codepoints()))
    return identities


def item_rng(seed: int, purpose: str, index: int) -> np.random.Generator:
    # One independent stream per item, so scene i does not change when n_scenes does.
    return np.random.default_rng([seed, zlib.crc32(purpose.encode()), index])


def _glyph_cap(config: SceneConfig, width: int, height: int) -> tuple[int, int]:
    cap = int(min(width, height) / _ROTATION_GROWTH)
    return min(config.min_glyph, cap), min(config.max_glyph, cap)


def _styled_glyphs(rng: np.random.Generator, identities: list[int], config: SceneConfig, size: tuple[int, int]):
    min_glyph, max_glyph = _glyph_cap(config, *size)
    styles = [sample_style(rng, min_glyph, max_glyph, config.max_angle) for _ in identities]
    return [(cp, augment_glyph(render_glyph(cp), style)) for cp, style in zip(identities, styles, strict=True)]


def _encode(rng: np.random.Generator, image: Image.Image, config: SceneConfig) -> tuple[bytes, Image.Image]:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(config.min_jpeg_quality, config.max_jpeg_quality + 1)))
    jpeg_bytes = buffer.getvalue()
    return jpeg_bytes, Image.open(io.BytesIO(jpeg_bytes)).convert("RGB")


def _compose(rng: np.random.Generator, identities: list[int], config: SceneConfig, size: tuple[int, int]):
    background = random_background(rng, *size, photo_share=config.photo_share)
    glyphs = _styled_glyphs(rng, identities, config, size)
    composition = compose_scene(rng, background, glyphs, config.min_visible)
    return composition, *_encode(rng, composition.image, config)


def make_scene(
    rng: np.random.Generator,
    scene_id: str,
    split: Split,
    pool: tuple[int, ...],
    config: SceneConfig,
    first_identity: int | None = None,
) -> Scene:
    """One scene of 1..max distinct identities drawn from pool (first_identity, if given, is drawn first)."""
    count = int(rng.integers(config.min_instances, config.max_instances + 1))
    others = [cp for cp in pool if cp != first_identity]
    chosen = [int(cp) for cp in rng.choice(others, size=min(count, len(others)), replace=False)]
    if first_identity is not None:
        chosen = [first_identity, *chosen[: count - 1]]
    composition, jpeg_bytes, image = _compose(rng, chosen, config, (config.width, config.height))
    instances = tuple(Instance(p.identity, composition.visible_box(i)) for i, p in enumerate(composition.placements))
    return Scene(scene_id, split, image, jpeg_bytes, instances, composition)


def _relevant(scenes: tuple[Scene, ...], identity: int) -> tuple[str, ...]:
    return tuple(s.scene_id for s in scenes if any(inst.identity == identity for inst in s.instances))


def make_object_query(
    rng: np.random.Generator,
    query_id: str,
    identity: int,
    gallery: tuple[Scene, ...],
    split: Split,
    config: SceneConfig,
) -> Query:
    """One identity alone, freshly styled, on its own background of query_size squared."""
    size = (config.query_size, config.query_size)
    composition, jpeg_bytes, image = _compose(rng, [identity], config, size)
    return Query(query_id, "object", split, identity, image, jpeg_bytes, _relevant(gallery, identity), composition)


def _queries(seed: int, split: Split, gallery: tuple[Scene, ...], n_object: int, n_scene: int, config: SceneConfig):
    present = sorted({inst.identity for scene in gallery for inst in scene.instances})
    queries: list[Query] = []
    for i in range(n_object if present else 0):
        rng = item_rng(seed, f"object-query-{split}", i)
        identity = int(present[int(rng.integers(len(present)))])
        queries.append(make_object_query(rng, f"{split}-oq-{i:05d}", identity, gallery, split, config))
    for i in range(n_scene if present else 0):
        rng = item_rng(seed, f"scene-query-{split}", i)
        identity = int(present[int(rng.integers(len(present)))])
        scene = make_scene(rng, f"{split}-sq-{i:05d}", split, tuple(present), config, first_identity=identity)
        relevant = _relevant(gallery, identity)
        queries.append(
            Query(scene.scene_id, "scene", split, identity, scene.image, scene.jpeg_bytes, relevant, scene.composition)
        )
    return queries


def generate(
    seed: int,
    n_scenes: int,
    split: Split | Literal["both"] = "both",
    n_object_queries: int = 0,
    n_scene_queries: int = 0,
    config: SceneConfig | None = None,
) -> SceneBench:
    """Generate n_scenes gallery scenes (and queries) per requested split, deterministically from seed."""
    config = config or SceneConfig()
    identities = benchmark_identities(config)
    galleries: dict[str, tuple[Scene, ...]] = {"train": (), "test": ()}
    queries: list[Query] = []
    for name in SPLITS if split == "both" else (split,):
        galleries[name] = tuple(
            make_scene(item_rng(seed, f"scene-{name}", i), f"{name}-{i:05d}", name, identities[name], config)
            for i in range(n_scenes)
        )
        queries += _queries(seed, name, galleries[name], n_object_queries, n_scene_queries, config)
    return SceneBench(seed, config, identities, galleries["train"], galleries["test"], tuple(queries))
