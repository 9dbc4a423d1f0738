"""Training inputs: YOLO labels that round-trip to the true boxes, labelled crops, and fp16 weight files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import load_file

from imgsearch.scenebench import SceneConfig, benchmark_identities, generate
from imgsearch.training.crops import jitter_box, scene_crops
from imgsearch.training.weights import file_sha256, save_fp16
from imgsearch.training.yolo_dataset import write_yolo_dataset, yolo_label_lines

SMALL = SceneConfig(width=200, height=150, min_glyph=24, max_glyph=90, query_size=96)


def test_yolo_labels_convert_back_to_the_true_boxes() -> None:
    for scene in generate(3, 4, split="train", config=SMALL).train_scenes:
        lines = yolo_label_lines(scene)
        assert len(lines) == len(scene.instances)
        for line, instance in zip(lines, scene.instances, strict=True):
            class_id, cx, cy, w, h = (float(v) for v in line.split())
            box = ((cx - w / 2) * 200, (cy - h / 2) * 150, (cx + w / 2) * 200, (cy + h / 2) * 150)
            assert class_id == 0
            np.testing.assert_allclose(box, instance.box, atol=1e-3)


def test_yolo_dataset_holds_train_identities_only_with_one_label_file_per_image(tmp_path: Path) -> None:
    data_yaml = write_yolo_dataset(tmp_path, seed=5, n_train=3, n_val=2, config=SMALL)
    data = yaml.safe_load(data_yaml.read_text())
    assert data["names"] == {0: "object"}
    for split, count in (("train", 3), ("val", 2)):
        images = sorted((tmp_path / "images" / split).glob("*.jpg"))
        labels = sorted((tmp_path / "labels" / split).glob("*.txt"))
        assert len(images) == len(labels) == count
        assert [p.stem for p in images] == [p.stem for p in labels]


def test_jittered_boxes_stay_within_the_allowed_shift() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        box = jitter_box(rng, (100, 50, 200, 150), 0.1)[0]
        assert np.all(np.abs(box - np.array([100, 50, 200, 150])) <= 10.0 + 1e-4)


def test_scene_crops_are_labelled_with_train_identities() -> None:
    def transform(crop):
        return torch.from_numpy(np.array(crop.resize((16, 16)))).permute(2, 0, 1)

    tensors, classes, identities = scene_crops(2, 3, transform, crops_per_instance=2, config=SMALL)
    assert identities == benchmark_identities(SMALL)["train"]
    assert tensors.shape[1:] == (3, 16, 16)
    assert len(tensors) == len(classes) and len(classes) % 2 == 0
    assert int(classes.min()) >= 0 and int(classes.max()) < len(identities)


def test_weights_are_stored_as_fp16_with_integer_buffers_kept(tmp_path: Path) -> None:
    state = {"weight": torch.randn(4, 3), "num_batches_tracked": torch.tensor(7)}
    path = tmp_path / "w.safetensors"
    sha256 = save_fp16(state, path, metadata={"note": "test"})
    loaded = load_file(str(path))
    assert loaded["weight"].dtype == torch.float16
    torch.testing.assert_close(loaded["weight"].float(), state["weight"], atol=1e-3, rtol=1e-3)
    assert loaded["num_batches_tracked"].dtype == torch.int64 and int(loaded["num_batches_tracked"]) == 7
    assert sha256 == file_sha256(path)


def test_zero_jitter_keeps_the_box() -> None:
    box = jitter_box(np.random.default_rng(1), (1, 2, 3, 4), 0.0)
    np.testing.assert_array_equal(box, [[1, 2, 3, 4]])
