"""Object detection with ultralytics YOLO: batched predict, NMS and box rescaling done by the library."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pipeline.config import DetectorConfig
from pipeline.models import offline
from pipeline.models.base import Model
from pipeline.models.exported import cached_export
from pipeline.models.runtime import state_dict_sha256

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detections:
    """One image's detections, in the pixel coordinates of the image given to the detector."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    labels: list[str]

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), [])


class YoloDetector(Model[list[Image.Image], list[Detections]]):
    def __init__(self, config: DetectorConfig, cache_dir: Path, device: torch.device, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        self.cache_dir = cache_dir
        self.device = device
        self.seed = seed
        self._yolo: Any = None
        self._exported: Any = None  # the ONNX Runtime copy, with `runtime` "onnxruntime"
        self._class_ids: list[int] | None = None
        self._weights_sha256 = ""
        # Ultralytics keeps per-call state on its predictor object: one call at a time.
        self._predict_lock = threading.Lock()

    def resolve_weights(self) -> Path | str:
        """A model yaml (random weights, for tests), an existing file, or a name looked up in the cache."""
        weights = self.config.weights
        if weights.endswith((".yaml", ".yml")) or Path(weights).is_file():
            return weights
        cached = self.cache_dir / "ultralytics" / weights
        if cached.is_file():
            return cached
        raise offline.ModelWeightsMissing(f"YOLO weights {weights!r}", str(self.cache_dir / "ultralytics"))

    def _load(self) -> None:
        from ultralytics import YOLO

        offline.undo_ultralytics_pillow_patch()
        source = self.resolve_weights()
        torch.manual_seed(self.seed)
        self._yolo = YOLO(str(source), task="detect")
        if self.config.checkpoint is not None:
            self._load_checkpoint(self.config.checkpoint)
        self._yolo.model.to(self.device).eval()
        self._weights_sha256 = state_dict_sha256(self._yolo.model)
        self._exported = self._exported_yolo(YOLO)
        names: dict[int, str] = self._yolo.names
        if self.config.labels:
            unknown = set(self.config.labels) - set(names.values())
            if unknown:
                raise ValueError(f"detector labels not known to {self.config.weights}: {sorted(unknown)}")
            self._class_ids = [class_id for class_id, name in names.items() if name in self.config.labels]

    def _exported_yolo(self, yolo_class: Any) -> Any:
        """The ONNX Runtime copy the configured runtime asks for, or None to run on PyTorch."""
        runtime = self.config.runtime
        if runtime not in ("auto", "pytorch", "onnxruntime"):
            raise ValueError(f"detector runtime {runtime!r}: choose auto, pytorch or onnxruntime")
        if runtime == "pytorch" or (runtime == "auto" and self.device.type != "cpu"):
            return None
        try:
            return yolo_class(str(self._exported_onnx()), task="detect")
        except Exception as error:  # auto only: a failed export (read-only cache, exporter error) keeps PyTorch
            if runtime == "onnxruntime":
                raise
            logger.warning("detector export to ONNX failed, running it on PyTorch: %s", error)
            return None

    @property
    def runtime(self) -> str:
        """The runtime plain (not augmented) detection runs on, once loaded."""
        self.load()
        return "onnxruntime" if self._exported is not None else "pytorch"

    def _exported_onnx(self) -> Path:
        """The network exported to ONNX by ultralytics, cached in the model cache under its weights' sha256 and the
        input size (see `cached_export`)."""
        stem = f"{Path(self.config.weights).stem}-{self._weights_sha256[:16]}-{self.config.image_size}"
        return cached_export(self.cache_dir / "exports", stem, self._weights_sha256, self._write_onnx)

    def _write_onnx(self, path: Path) -> None:
        threads = torch.get_num_threads()  # the exporter sets its own
        try:
            with tempfile.TemporaryDirectory(dir=path.parent) as scratch:  # it writes beside its source or here
                produced = self._yolo.export(format="onnx", imgsz=self.config.image_size, dynamic=True,
                                             simplify=False, device="cpu", verbose=False, project=scratch)  # fmt: skip
                shutil.move(str(produced), path)
        finally:
            torch.set_num_threads(threads)

    def _load_checkpoint(self, checkpoint: Path) -> None:
        """A safetensors state dict for the yaml-built model; class names come from the file's metadata."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        if not str(self.config.weights).endswith((".yaml", ".yml")):
            raise ValueError("a detector checkpoint needs a model yaml as the detector weights")
        if not checkpoint.is_file():
            raise FileNotFoundError(f"detector checkpoint {checkpoint} does not exist")
        self._yolo.model.load_state_dict(load_file(str(checkpoint)), strict=True)
        with safe_open(str(checkpoint), "pt") as handle:
            names = json.loads((handle.metadata() or {}).get("names", "{}"))
        if names:
            self._yolo.model.names = {int(class_id): name for class_id, name in names.items()}

    def predict(self, inputs: list[Image.Image], augment: bool = False) -> list[Detections]:
        """Detections per image; `augment` adds ultralytics' test-time augmentation (flips and smaller scales)."""
        self.load()
        return self._predict(inputs, augment)

    def _predict(self, images: list[Image.Image], augment: bool = False) -> list[Detections]:
        if not images:
            return []
        # Ultralytics expects numpy images in BGR order, like OpenCV gives them.
        arrays_bgr = [np.asarray(image)[:, :, ::-1] for image in images]
        with self._predict_lock:
            # Ultralytics sets torch to cpu_count - 1 threads when it builds its predictor: keep ours.
            threads = torch.get_num_threads()
            # The exported network has no test-time augmentation: an augmented call runs on PyTorch.
            yolo = self._exported if self._exported is not None and not augment else self._yolo
            results = yolo.predict(
                arrays_bgr,
                imgsz=self.config.image_size,
                conf=self.config.confidence,
                iou=self.config.iou,
                max_det=self.config.max_objects,
                classes=self._class_ids,
                agnostic_nms=self.config.class_agnostic_nms,
                augment=augment,
                device=self.device,
                verbose=False,
            )
            torch.set_num_threads(threads)
        names: dict[int, str] = self._yolo.names
        return [
            Detections(
                boxes_xyxy=result.boxes.xyxy.cpu().numpy().astype(np.float32),
                scores=result.boxes.conf.cpu().numpy().astype(np.float32),
                labels=[names[int(class_id)] for class_id in result.boxes.cls.cpu().tolist()],
            )
            for result in results
        ]

    def describe(self) -> dict[str, Any]:
        self.load()
        config = self.config
        return {
            "detector": Path(config.weights).name,
            "weights_sha256": self._weights_sha256,
            "image_size": config.image_size,
        }
