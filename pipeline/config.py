"""Plain configuration for the pipeline's stages; `from_settings` is the only link to the settings object."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.decode import DecodeLimits

AugmentMode = Literal["none", "queries", "all"]


@dataclass(frozen=True)
class DetectorConfig:
    """An ultralytics YOLO detector: weights by name (from the model cache), path, or a model yaml.

    With a model yaml, `checkpoint` may name a safetensors state dict for it (how the starter detector ships).
    """

    weights: str = "yolo11n.pt"
    checkpoint: Path | None = None
    image_size: int = 640
    confidence: float = 0.25
    iou: float = 0.5
    max_objects: int = 20
    min_box_side: float = 16.0
    labels: tuple[str, ...] = ()
    class_agnostic_nms: bool = True
    # "onnxruntime": the same network exported to ONNX by ultralytics (equal boxes, so the same model id), which
    # bench/runtime_choice.py measured faster at the real architecture; test-time augmentation stays on PyTorch.
    # "auto": onnxruntime on a CPU (its package here is the CPU build), pytorch on a GPU or if the export fails.
    runtime: str = "pytorch"
    # Ultralytics test-time augmentation (detection also on a flipped and on down-scaled copies, about 3x the time),
    # for query images only or for every image. Queries often show their object larger than the gallery does.
    augment: AugmentMode = "none"


@dataclass(frozen=True)
class EmbedderConfig:
    """A timm backbone used for pooled features (`num_classes=0`)."""

    model_name: str = "vit_small_patch14_dinov2.lvd142m"
    image_size: int | None = 224
    checkpoint: Path | None = None
    pretrained: bool = True
    batch_size: int = 32
    # "openvino" or "onnxruntime": the same network exported to ONNX here and checked against PyTorch on load
    # (cosine >= 0.9999, so the same model id); bench/runtime_choice.py measured OpenVINO fastest for ViT-S/14.
    # "auto": openvino on a CPU, pytorch on a GPU or if the export fails or its vectors differ.
    runtime: str = "pytorch"


@dataclass(frozen=True)
class PipelineConfig:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    crop_margin: float = 0.1
    model_cache_dir: Path = Path("var/models")
    device: str = "auto"
    torch_threads: int | None = None
    seed: int = 0
    decode_workers: int = 2
    # Batches a stream runs through the models at once, each on its share of the torch threads: on a few cores
    # shared with the stores, two single-threaded batches waste less than one on both threads. None: two on the
    # CPU (one where there is a single thread), one on a GPU.
    model_lanes: int | None = None
