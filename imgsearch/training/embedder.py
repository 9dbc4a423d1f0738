"""Train the starter embedder: a small timm CNN with a normalised-softmax metric loss on SceneBench object crops."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress

from imgsearch.training.crops import scene_crops
from imgsearch.training.weights import save_fp16


@dataclass(frozen=True)
class EmbedderTraining:
    seed: int = 0
    n_scenes: int = 12000
    crops_per_instance: int = 2
    n_val_scenes: int = 200
    epochs: int = 8
    model_name: str = "resnet10t"
    image_size: int = 64
    batch: int = 128
    learning_rate: float = 2e-3
    temperature: float = 0.05


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and brightness/contrast jitter on already normalised tensors."""
    flip = torch.rand(batch.shape[0], generator=generator) < 0.5
    batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
    scale = 1 + (torch.rand(batch.shape[0], 1, 1, 1, generator=generator) - 0.5) * 0.4
    shift = (torch.rand(batch.shape[0], 1, 1, 1, generator=generator) - 0.5) * 0.4
    return batch * scale + shift


@torch.inference_mode()
def embed_all(model: torch.nn.Module, tensors: torch.Tensor, batch: int = 256) -> torch.Tensor:
    model.eval()
    parts = [torch.nn.functional.normalize(model(tensors[i : i + batch]), dim=1) for i in range(0, len(tensors), batch)]
    return torch.cat(parts)


def recall_at_1(vectors: torch.Tensor, classes: torch.Tensor) -> float:
    """Leave-one-out nearest-neighbour recall@1 among the given unit vectors.

    Only vectors whose class has another member count as queries: with over a thousand train identities, most
    identities appear once among a few hundred validation crops, and such a crop has nothing to find.
    """
    similarity = vectors @ vectors.T
    similarity.fill_diagonal_(-2.0)
    has_partner = torch.bincount(classes)[classes] > 1
    hits = classes[similarity.argmax(1)] == classes
    return float(hits[has_partner].float().mean())


def train_embedder(plan: EmbedderTraining, work_dir: Path, out_file: Path) -> dict[str, Any]:
    """Train on train-identity crops, check recall@1 on crops of held-out scenes, save fp16 safetensors."""
    import timm
    import timm.data
    from pytorch_metric_learning.losses import NormalizedSoftmaxLoss

    started = time.monotonic()
    torch.manual_seed(plan.seed)
    model = timm.create_model(plan.model_name, pretrained=False, num_classes=0)
    data_config = timm.data.resolve_data_config({"input_size": (3, plan.image_size, plan.image_size)}, model=model)
    transform = timm.data.create_transform(**data_config, is_training=False)
    train_x, train_y, identities = scene_crops(plan.seed, plan.n_scenes, transform, plan.crops_per_instance)
    val_x, val_y, _ = scene_crops(plan.seed + 1, plan.n_val_scenes, transform, crops_per_instance=1)
    loss_fn = NormalizedSoftmaxLoss(len(identities), model.num_features, temperature=plan.temperature)
    optimizer = torch.optim.AdamW(
        [
            {"params": model.parameters(), "lr": plan.learning_rate, "weight_decay": 0.05},
            {"params": loss_fn.parameters(), "lr": plan.learning_rate * 10, "weight_decay": 0.0},
        ]
    )
    steps_per_epoch = math.ceil(len(train_x) / plan.batch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[plan.learning_rate, plan.learning_rate * 10], total_steps=plan.epochs * steps_per_epoch
    )
    generator = torch.Generator().manual_seed(plan.seed)
    history = []
    with Progress() as progress:
        task = progress.add_task("embedder", total=plan.epochs * steps_per_epoch)
        for epoch in range(plan.epochs):
            model.train()
            order = torch.randperm(len(train_x), generator=generator)
            for start in range(0, len(order), plan.batch):
                index = order[start : start + plan.batch]
                loss = loss_fn(model(_augment(train_x[index], generator)), train_y[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                progress.advance(task)
            val_recall = recall_at_1(embed_all(model, val_x), val_y)
            history.append({"epoch": epoch + 1, "loss": round(loss.item(), 4), "val_recall_at_1": round(val_recall, 4)})
            progress.console.print(history[-1])
    sha256 = save_fp16(model.state_dict(), out_file, metadata={"model_name": plan.model_name})
    return {
        "file": out_file.name,
        "sha256": sha256,
        "bytes": out_file.stat().st_size,
        "architecture": plan.model_name,
        "dim": int(model.num_features),
        "image_size": plan.image_size,
        "training": asdict(plan),
        "train_crops": len(train_x),
        "train_identities": len(identities),
        "train_seconds": round(time.monotonic() - started, 1),
        "val_metrics": {
            "split": "crops of held-out train-identity scenes",
            "recall_at_1": history[-1]["val_recall_at_1"],
        },
        "history": history,
    }
