"""Image embeddings from a timm backbone: pooled features, L2-normalised, float32."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pipeline.config import EmbedderConfig
from pipeline.models import offline
from pipeline.models.base import Model
from pipeline.models.exported import EXPORTED_RUNTIMES, ExportedNetwork, exported_onnx
from pipeline.models.runtime import state_dict_sha256

logger = logging.getLogger(__name__)

EMBEDDER_RUNTIMES = ("auto", "pytorch", *EXPORTED_RUNTIMES)
# An exported network must give PyTorch's vectors to this cosine, or it is not used: the model id stays the same.
EQUAL_COSINE = 0.9999


class ExportDisagrees(RuntimeError):
    """The exported network's vectors are not PyTorch's (cosine under EQUAL_COSINE)."""


class TimmEmbedder(Model[list[Image.Image], np.ndarray]):
    """Batches of RGB images in, an (N, dim) array of unit vectors out."""

    def __init__(self, config: EmbedderConfig, cache_dir: Path, device: torch.device, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        self.cache_dir = cache_dir
        self.device = device
        self.seed = seed
        self._model: Any = None
        self._transform: Any = None
        self.data_config: dict[str, Any] = {}
        self._weights_sha256 = ""
        self._exported: ExportedNetwork | None = None  # set when the configured runtime is not PyTorch

    def _create(self) -> torch.nn.Module:
        import timm
        from huggingface_hub.errors import LocalEntryNotFoundError

        config = self.config
        if config.checkpoint is not None:
            if not config.checkpoint.is_file():
                raise FileNotFoundError(f"embedder checkpoint {config.checkpoint} does not exist")
            # timm's own loader drops the classifier and resizes position embeddings to img_size.
            return self._timm_create(timm, pretrained=True, pretrained_cfg_overlay={"file": str(config.checkpoint)})
        if not config.pretrained:
            torch.manual_seed(self.seed)
            return self._timm_create(timm, pretrained=False)
        try:
            return self._timm_create(timm, pretrained=True, cache_dir=self.cache_dir / "timm")
        except (LocalEntryNotFoundError, OSError) as error:
            raise offline.ModelWeightsMissing(f"timm weights for {config.model_name!r}", str(self.cache_dir)) from error

    def _timm_create(self, timm: Any, **options: Any) -> torch.nn.Module:
        """Pooled features at the configured size; only ViT-style models take `img_size` (a CNN takes any size)."""
        name, size = self.config.model_name, self.config.image_size
        if size:
            try:
                return timm.create_model(name, num_classes=0, img_size=size, **options)
            except TypeError as error:
                if "img_size" not in str(error):
                    raise
        return timm.create_model(name, num_classes=0, **options)

    def _load(self) -> None:
        import timm.data

        self._model = self._create().to(self.device).eval()
        size = self.config.image_size
        overrides = {"input_size": (3, size, size)} if size else {}
        self.data_config = timm.data.resolve_data_config(overrides, model=self._model)
        self._transform = timm.data.create_transform(**self.data_config, is_training=False)
        self._weights_sha256 = state_dict_sha256(self._model)
        self._exported = self._exported_network()

    def _exported_network(self) -> ExportedNetwork | None:
        """The exported copy the configured runtime asks for, or None to run on PyTorch."""
        runtime = self.config.runtime
        if runtime not in EMBEDDER_RUNTIMES:
            raise ValueError(f"embedder runtime {runtime!r}: choose {', '.join(EMBEDDER_RUNTIMES)}")
        if runtime == "pytorch" or (runtime == "auto" and self.device.type != "cpu"):
            return None
        if self.device.type != "cpu":
            raise ValueError(f"embedder runtime {runtime!r} runs on the CPU, not {self.device}: choose auto or pytorch")
        try:
            return self._checked_export("openvino" if runtime == "auto" else runtime)
        except Exception as error:  # auto only: no export (read-only cache, exporter error, no package) keeps PyTorch
            if runtime != "auto":
                raise
            logger.warning("embedder export failed, running it on PyTorch: %s", error)
            return None

    def _checked_export(self, runtime: str) -> ExportedNetwork:
        """The network exported to ONNX in the model cache, run by `runtime`, after its vectors for a seeded batch
        matched PyTorch's."""
        shape = tuple(self.data_config["input_size"])
        name = self.config.model_name.replace("/", "_")
        stem = f"{name}-{self._weights_sha256[:16]}-{shape[1]}x{shape[2]}"
        probe = torch.randn((2, *shape), generator=torch.Generator().manual_seed(self.seed))
        with torch.no_grad():  # not inference mode: a tensor made in it could not be traced by the exporter
            path = exported_onnx(self._model, probe[:1], self.cache_dir / "exports", stem, self._weights_sha256)
        exported = ExportedNetwork(path, runtime)
        with torch.inference_mode():
            expected = torch.nn.functional.normalize(self._model(probe).float(), dim=1).numpy()
        got = exported(probe.numpy(), torch.get_num_threads())
        got = got / np.linalg.norm(got, axis=1, keepdims=True)
        worst = float((expected * got).sum(axis=1).min())
        if worst < EQUAL_COSINE:
            raise ExportDisagrees(f"{runtime} vectors differ from PyTorch's (cosine {worst:.6f} < {EQUAL_COSINE})")
        return exported

    @property
    def runtime(self) -> str:
        """The runtime the forward pass runs on, once loaded."""
        self.load()
        return self._exported.runtime if self._exported is not None else "pytorch"

    @property
    def dim(self) -> int:
        self.load()
        return int(self._model.num_features)

    def preprocess(self, crops: list[Image.Image]) -> torch.Tensor:
        """CPU work: timm's eval transform for this model (resize, crop, normalise), stacked."""
        self.load()
        return torch.stack([self._transform(crop) for crop in crops])

    def embed_tensor(self, batch: torch.Tensor) -> np.ndarray:
        """The forward pass on an already preprocessed batch."""
        self.load()
        if batch.shape[0] == 0:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            if self._exported is not None:
                features = torch.from_numpy(self._exported(batch.numpy(), torch.get_num_threads()))
            else:
                features = self._model(batch.to(self.device))
            unit = torch.nn.functional.normalize(features.float(), dim=1)
        return unit.cpu().numpy().astype(np.float32)

    def _predict(self, crops: list[Image.Image]) -> np.ndarray:
        vectors = [
            self.embed_tensor(self.preprocess(crops[start : start + self.config.batch_size]))
            for start in range(0, len(crops), self.config.batch_size)
        ]
        return np.concatenate(vectors) if vectors else np.zeros((0, self.dim), np.float32)

    def describe(self) -> dict[str, Any]:
        self.load()
        preprocessing = {key: list(v) if isinstance(v, tuple) else v for key, v in self.data_config.items()}
        return {
            "embedder": self.config.model_name,
            "weights_sha256": self._weights_sha256,
            "dim": self.dim,
            "preprocessing": preprocessing,
        }
