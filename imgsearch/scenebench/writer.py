"""Saving a SceneBench: the exact JPEG bytes plus one ground_truth.json."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imgsearch.scenebench.glyphs import identity_name

if TYPE_CHECKING:
    from imgsearch.scenebench.dataset import Query, Scene, SceneBench


def _scene_record(scene: Scene) -> dict[str, Any]:
    return {
        "scene_id": scene.scene_id,
        "split": scene.split,
        "file": f"scenes/{scene.scene_id}.jpg",
        "width": scene.image.width,
        "height": scene.image.height,
        "instances": [
            {"identity": identity_name(inst.identity), "emoji": chr(inst.identity), "box_xyxy": list(inst.box)}
            for inst in scene.instances
        ],
    }


def _query_record(query: Query) -> dict[str, Any]:
    return {
        "query_id": query.query_id,
        "kind": query.kind,
        "split": query.split,
        "file": f"queries/{query.query_id}.jpg",
        "identity": identity_name(query.identity),
        "relevant_scene_ids": list(query.relevant_scene_ids),
    }


def ground_truth(bench: SceneBench) -> dict[str, Any]:
    """The JSON-ready ground truth of a benchmark (boxes are x1, y1, x2, y2 with exclusive ends)."""
    return {
        "seed": bench.seed,
        "config": asdict(bench.config),
        "identities": {split: [identity_name(cp) for cp in cps] for split, cps in bench.identities.items()},
        "scenes": [_scene_record(scene) for scene in (*bench.train_scenes, *bench.test_scenes)],
        "queries": [_query_record(query) for query in bench.queries],
    }


def write_bench(bench: SceneBench, folder: Path) -> Path:
    """Write scenes/*.jpg, queries/*.jpg and ground_truth.json under folder; returns the JSON's path."""
    folder = Path(folder)
    for sub in ("scenes", "queries"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for scene in (*bench.train_scenes, *bench.test_scenes):
        (folder / "scenes" / f"{scene.scene_id}.jpg").write_bytes(scene.jpeg_bytes)
    for query in bench.queries:
        (folder / "queries" / f"{query.query_id}.jpg").write_bytes(query.jpeg_bytes)
    path = folder / "ground_truth.json"
    path.write_text(json.dumps(ground_truth(bench), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
