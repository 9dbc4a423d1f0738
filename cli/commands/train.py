"""`imgsearch train detector|embedder`: reproduce the committed starter models from a seed."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from imgsearch.training.manifest import STARTER_DIR, update_manifest


def _command_line() -> str:
    return "imgsearch " + shlex.join(sys.argv[1:])


def run_train(args: argparse.Namespace) -> int:
    work_dir = Path(args.work_dir) / args.model
    out_dir = Path(args.out_dir)
    overrides = {
        name: value for name, value in (("n_scenes", args.scenes), ("epochs", args.epochs)) if value is not None
    }
    if args.model == "detector":
        from imgsearch.training.detector import DetectorTraining, train_detector

        plan = DetectorTraining(seed=args.seed, **overrides)
        entry = train_detector(plan, work_dir, out_dir / "detector.safetensors")
    else:
        from imgsearch.training.embedder import EmbedderTraining, train_embedder

        plan = EmbedderTraining(seed=args.seed, **overrides)
        entry = train_embedder(plan, work_dir, out_dir / "embedder.safetensors")
    entry["command"] = _command_line()
    if out_dir.resolve() == STARTER_DIR.resolve():
        update_manifest(args.model, entry)
    print(f"{args.model}: {out_dir / entry['file']} sha256 {entry['sha256']}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a starter model on SceneBench's train split (offline)")
    train.add_argument("model", choices=["detector", "embedder"])
    train.add_argument("--seed", type=int, default=0, help="data and initialisation seed")
    train.add_argument("--scenes", type=int, default=None, help="training scenes to generate")
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--work-dir", default="var/training", help="generated data and training runs")
    train.add_argument("--out-dir", default=str(STARTER_DIR), help="where the fp16 safetensors go")
    train.set_defaults(handler=run_train)
