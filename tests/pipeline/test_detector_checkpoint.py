"""A yaml-built YOLO detector takes its weights and class names from a safetensors checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from imgsearch.training.detector import DETECTOR_YAML
from imgsearch.training.weights import save_fp16
from pipeline.config import DetectorConfig
from pipeline.models.detector import YoloDetector


def _detector(tmp_path: Path, **config: object) -> YoloDetector:
    return YoloDetector(DetectorConfig(**config), tmp_path, torch.device("cpu"))  # type: ignore[arg-type]


def test_checkpoint_weights_and_names_replace_the_random_initialisation(tmp_path: Path) -> None:
    source = _detector(tmp_path, weights=str(DETECTOR_YAML))
    source.seed = 123
    source.load()
    checkpoint = tmp_path / "detector.safetensors"
    state = source._yolo.model.state_dict()
    save_fp16(state, checkpoint, metadata={"names": json.dumps({"0": "thing"})})

    loaded = _detector(tmp_path, weights=str(DETECTOR_YAML), checkpoint=checkpoint)
    loaded.load()
    for name, tensor in loaded._yolo.model.state_dict().items():
        torch.testing.assert_close(tensor.float(), state[name].half().float(), msg=name)
    assert loaded._yolo.names == {0: "thing"}
    unloaded = _detector(tmp_path, weights=str(DETECTOR_YAML))
    unloaded.load()
    assert unloaded.describe()["weights_sha256"] != loaded.describe()["weights_sha256"]


def test_a_checkpoint_needs_a_model_yaml_and_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _detector(tmp_path, weights=str(DETECTOR_YAML), checkpoint=tmp_path / "missing.safetensors").load()
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"")
    with pytest.raises(ValueError, match="model yaml"):
        _detector(tmp_path, weights=str(weights), checkpoint=tmp_path / "x.safetensors")._load_checkpoint(weights)
