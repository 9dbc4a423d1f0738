"""Which runtime the detector's `auto` setting picks, and what happens when its export cannot be made."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from imgsearch.pipeline_factory import pipeline_config
from imgsearch.settings import Settings
from imgsearch.starter_models import with_starter_models
from pipeline.config import DetectorConfig, PipelineConfig
from pipeline.models.detector import YoloDetector

RANDOM_YOLO = DetectorConfig(weights="yolo11n.yaml", image_size=64)


def refuse_export(self: YoloDetector) -> Path:
    raise OSError("model cache is read-only")


def test_auto_is_the_settings_default_and_the_starter_models_keep_pytorch() -> None:
    settings = Settings(_env_file=None, es_url=None, s3_endpoint=None, models="pretrained")
    assert pipeline_config(settings).detector.runtime == "auto"
    starter = with_starter_models(replace(PipelineConfig(), detector=replace(RANDOM_YOLO, runtime="auto")))
    assert starter.detector.runtime == "pytorch"
    chosen = with_starter_models(replace(PipelineConfig(), detector=replace(RANDOM_YOLO, runtime="onnxruntime")))
    assert chosen.detector.runtime == "onnxruntime"  # set explicitly: kept


def test_auto_falls_back_to_pytorch_when_the_export_fails_but_onnxruntime_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(YoloDetector, "_exported_onnx", refuse_export)
    auto = YoloDetector(replace(RANDOM_YOLO, runtime="auto"), tmp_path, torch.device("cpu"))
    auto.load()
    assert auto._exported is None
    explicit = YoloDetector(replace(RANDOM_YOLO, runtime="onnxruntime"), tmp_path, torch.device("cpu"))
    with pytest.raises(OSError, match="read-only"):
        explicit.load()


def test_auto_on_a_gpu_device_runs_pytorch_without_exporting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(YoloDetector, "_exported_onnx", refuse_export)
    detector = YoloDetector(replace(RANDOM_YOLO, runtime="auto"), tmp_path, torch.device("cpu"))
    monkeypatch.setattr(detector, "device", torch.device("cuda"))
    assert detector._exported_yolo(object) is None  # not asked to export at all (refuse_export would raise)


def test_an_unknown_runtime_is_refused(tmp_path: Path) -> None:
    detector = YoloDetector(replace(RANDOM_YOLO, runtime="tensorrt"), tmp_path, torch.device("cpu"))
    with pytest.raises(ValueError, match="choose auto, pytorch or onnxruntime"):
        detector.load()
