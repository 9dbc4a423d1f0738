"""Image embeddings from a timm backbone: pooled features, L2-normalised, float32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pipeline.config import EmbedderConfig
from pipeline.models import offline
from pipeline.models.base import Model
from pipeline.models.runtime import state_dict_sha256


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
