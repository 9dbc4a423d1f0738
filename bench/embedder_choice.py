"""Which starter-embedder settings generalise to emoji identities the embedder never saw?

    .venv/bin/python bench/embedder_choice.py [--size 64] [--losses ns:0.05 ns:0.1 ms arc] [--scenes 1500]

Holds 30 of SceneBench's 153 split train identities out of training (the test split stays untouched; the
train-only identities stay out too, so rows compare with runs from before they existed), trains resnet10t
from scratch on crops of the rest for a few epochs per loss, and prints leave-one-out recall@1 and mAP@100 among
crops of the held-out identities after each epoch. Losses (pytorch-metric-learning): ns:T normalised softmax at
temperature T, arc ArcFace (scale 30), ms multi-similarity with its miner, pa proxy-anchor. Same data, seed and
schedule for every loss, so the rows compare in one run.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import timm
import timm.data
import torch
from pytorch_metric_learning import losses, miners

from imgsearch.evaluation.metrics import average_precision
from imgsearch.scenebench import SceneConfig
from imgsearch.training.crops import scene_crops
from imgsearch.training.embedder import _augment, embed_all, recall_at_1

HELD_OUT = 30


def held_out_scores(model: torch.nn.Module, crops: torch.Tensor, classes: torch.Tensor) -> tuple[float, float]:
    vectors = embed_all(model, crops)
    recall = recall_at_1(vectors, classes)
    similarity = vectors @ vectors.T
    similarity.fill_diagonal_(-2)
    ranked = similarity.argsort(1, descending=True)[:, :100]
    aps = []
    for i in range(len(classes)):
        relevant = {str(j) for j in torch.nonzero(classes == classes[i]).flatten().tolist() if j != i}
        aps.append(average_precision([str(int(j)) for j in ranked[i]], relevant))
    return recall, float(np.mean(aps))


def make_loss(spec: str, n_classes: int, dim: int) -> tuple[torch.nn.Module, object | None]:
    name, _, argument = spec.partition(":")
    if name == "ns":
        return losses.NormalizedSoftmaxLoss(n_classes, dim, temperature=float(argument or 0.05)), None
    if name == "arc":
        return losses.ArcFaceLoss(n_classes, dim, margin=float(argument or 28.6), scale=30), None
    if name == "ms":
        return losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()
    if name == "pa":
        return losses.ProxyAnchorLoss(n_classes, dim), None
    raise SystemExit(f"unknown loss {spec!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="crop size in pixels")
    parser.add_argument("--losses", nargs="+", default=["ns:0.05", "ns:0.1", "ms", "arc"])
    parser.add_argument("--scenes", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()

    torch.manual_seed(0)
    probe = timm.create_model("resnet10t", num_classes=0)
    data_config = timm.data.resolve_data_config({"input_size": (3, args.size, args.size)}, model=probe)
    transform = timm.data.create_transform(**data_config, is_training=False)
    started = time.monotonic()
    split_only = SceneConfig(train_only_identities=False)
    crops, classes, identities = scene_crops(100, args.scenes, transform, 2, config=split_only)
    print(f"{len(crops)} crops of {args.scenes} scenes in {time.monotonic() - started:.0f} s", flush=True)
    order = torch.randperm(len(identities), generator=torch.Generator().manual_seed(0))
    is_held = torch.isin(classes, order[:HELD_OUT])
    train_x, train_classes = crops[~is_held], classes[~is_held]
    renumber = {int(c): i for i, c in enumerate(sorted(set(train_classes.tolist())))}
    train_y = torch.tensor([renumber[int(c)] for c in train_classes])
    held_x, held_y = crops[is_held][::2], classes[is_held][::2]  # one crop per held-out instance

    for spec in args.losses:
        torch.manual_seed(0)
        model = timm.create_model("resnet10t", num_classes=0)
        loss_fn, miner = make_loss(spec, len(renumber), model.num_features)
        groups = [{"params": model.parameters(), "lr": 2e-3, "weight_decay": 0.05}]
        if list(loss_fn.parameters()):
            groups.append({"params": loss_fn.parameters(), "lr": 2e-2, "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(groups)
        steps = math.ceil(len(train_x) / 128)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in groups], total_steps=args.epochs * steps
        )
        generator = torch.Generator().manual_seed(0)
        started = time.monotonic()
        for epoch in range(args.epochs):
            model.train()
            shuffled = torch.randperm(len(train_x), generator=generator)
            for start in range(0, len(shuffled), 128):
                index = shuffled[start : start + 128]
                embeddings = model(_augment(train_x[index], generator))
                labels = train_y[index]
                loss = loss_fn(embeddings, labels, miner(embeddings, labels)) if miner else loss_fn(embeddings, labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
            recall, mean_ap = held_out_scores(model, held_x, held_y)
            elapsed = time.monotonic() - started
            print(f"{spec:8} epoch {epoch + 1}: held-out recall@1 {recall:.3f} mAP@100 {mean_ap:.3f} ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
