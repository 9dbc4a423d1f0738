"""Missing weights fail fast with one line saying how to get them; nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cli.main import main
from pipeline.config import DetectorConfig, EmbedderConfig
from pipeline.models.detector import YoloDetector
from pipeline.models.embedder import TimmEmbedder
from pipeline.models.offline import ModelWeightsMissing


def test_detector_weights_by_name_come_only_from_the_cache(tmp_path: Path) -> None:
    detector = YoloDetector(DetectorConfig(weights="yolo11n.pt"), tmp_path, torch.device("cpu"))
    with pytest.raises(ModelWeightsMissing, match="imgsearch models fetch"):
        detector.load()
    assert not list(tmp_path.rglob("*.pt")), "nothing may be downloaded"


def test_pretrained_embedder_weights_come_only_from_the_cache(tmp_path: Path) -> None:
    embedder = TimmEmbedder(EmbedderConfig(model_name="resnet18.a1_in1k"), tmp_path, torch.device("cpu"))
    with pytest.raises(ModelWeightsMissing, match="IMGSEARCH_MODEL_CACHE_DIR"):
        embedder.load()


def test_a_missing_checkpoint_file_is_named(tmp_path: Path) -> None:
    config = EmbedderConfig(model_name="test_vit", checkpoint=tmp_path / "absent.safetensors")
    with pytest.raises(FileNotFoundError, match=r"absent\.safetensors"):
        TimmEmbedder(config, tmp_path, torch.device("cpu")).load()


def test_cli_says_what_is_missing_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMGSEARCH_MODEL_CACHE_DIR", str(tmp_path))
    assert main(["models", "info"]) == 1
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert len(error_lines) == 1
    assert "yolo11n.pt" in error_lines[0] and "imgsearch models fetch" in error_lines[0]


def test_cli_info_reports_the_model_id_and_the_runtimes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMGSEARCH_MODEL_CACHE_DIR", str(tmp_path))  # the embedder's export goes here
    monkeypatch.setenv("IMGSEARCH_DETECTOR_WEIGHTS", "yolo11n.yaml")
    monkeypatch.setenv("IMGSEARCH_EMBEDDER_MODEL", "test_vit")
    monkeypatch.setenv("IMGSEARCH_EMBEDDER_PRETRAINED", "false")
    monkeypatch.setenv("IMGSEARCH_EMBEDDER_IMAGE_SIZE", "")
    monkeypatch.setenv("IMGSEARCH_DETECTOR_RUNTIME", "pytorch")  # no ONNX export into the user's model cache
    assert main(["models", "info"]) == 0
    output = capsys.readouterr().out
    assert '"model_id": "test_vit-' in output
    assert json.loads(output)["runtimes"] == {"detector": "pytorch", "embedder": "openvino"}  # auto on a CPU
