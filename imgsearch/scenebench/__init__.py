"""SceneBench: a self-generated, labelled search-by-object benchmark of emoji instances on varied backgrounds."""

from imgsearch.scenebench.compose import Composition, Placement, compose_scene, mask_box
from imgsearch.scenebench.dataset import (
    Instance,
    Query,
    Scene,
    SceneBench,
    SceneConfig,
    benchmark_identities,
    generate,
    split_identities,
)
from imgsearch.scenebench.glyphs import identity_codepoints, identity_name, train_only_codepoints
from imgsearch.scenebench.writer import ground_truth

__all__ = [
    "Composition",
    "Instance",
    "Placement",
    "Query",
    "Scene",
    "SceneBench",
    "SceneConfig",
    "benchmark_identities",
    "compose_scene",
    "generate",
    "ground_truth",
    "identity_codepoints",
    "identity_name",
    "mask_box",
    "split_identities",
    "train_only_codepoints",
]
