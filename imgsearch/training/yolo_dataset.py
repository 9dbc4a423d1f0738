"""SceneBench train-split scenes written in the YOLO dataset layout, one class: "object"."""

from __future__ import annotations

from pathlib import Path

import yaml

from imgsearch.scenebench import Scene, SceneConfig, generate

OBJECT_CLASS = "object"


def yolo_label_lines(scene: Scene) -> list[str]:
    """One `0 cx cy w h` line per instance, normalised to the scene size (the box ends are exclusive)."""
    width, height = scene.image.size
    lines = []
    for instance in scene.instances:
        x1, y1, x2, y2 = instance.box
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"0 {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def _write_split(folder: Path, name: str, scenes: tuple[Scene, ...]) -> None:
    images, labels = folder / "images" / name, folder / "labels" / name
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for scene in scenes:
        (images / f"{scene.scene_id}.jpg").write_bytes(scene.jpeg_bytes)
        (labels / f"{scene.scene_id}.txt").write_text("\n".join(yolo_label_lines(scene)) + "\n")


def write_yolo_dataset(folder: Path, seed: int, n_train: int, n_val: int, config: SceneConfig | None = None) -> Path:
    """Train and val scenes, both drawn from the train identities only (val from seed + 1); returns data.yaml."""
    folder = Path(folder)
    _write_split(folder, "train", generate(seed, n_train, split="train", config=config).train_scenes)
    _write_split(folder, "val", generate(seed + 1, n_val, split="train", config=config).train_scenes)
    data_yaml = folder / "data.yaml"
    data = {"path": str(folder.resolve()), "train": "images/train", "val": "images/val", "names": {0: OBJECT_CLASS}}
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return data_yaml
