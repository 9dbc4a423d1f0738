"""`imgsearch eval`: generate a SceneBench split, ingest it, answer its queries, print the table, write JSON."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.core import opened_core
from imgsearch.errors import ImgsearchError
from imgsearch.maintenance import drop_buckets, drop_es_alias
from imgsearch.settings import Settings


@contextmanager
def _eval_settings(base: Settings, backend: str, models: str) -> Iterator[Settings]:
    """Settings pointing at throw-away storage: a temporary folder, or a fresh index and buckets on the servers."""
    if backend == "servers":
        if not (base.uses_elasticsearch and base.uses_s3):
            raise ImgsearchError("--backend servers needs IMGSEARCH_ES_URL and IMGSEARCH_S3_ENDPOINT")
        run = f"imgsearch-eval-{uuid.uuid4().hex[:8]}"
        settings = base.model_copy(
            update={
                "models": models,
                "es_index_alias": run,
                "s3_bucket_originals": f"{run}-originals",
                "s3_bucket_thumbnails": f"{run}-thumbnails",
            }
        )
        try:
            yield settings
        finally:
            _drop_server_state(settings)
        return
    with tempfile.TemporaryDirectory(prefix="imgsearch-eval-") as folder:
        yield base.model_copy(update={"models": models, "es_url": None, "s3_endpoint": None, "data_dir": Path(folder)})


def _drop_server_state(settings: Settings) -> None:
    es = elasticsearch_client(settings)
    try:
        drop_es_alias(es, settings.es_index_alias)
    finally:
        es.close()
    drop_buckets(minio_client(settings), [settings.s3_bucket_originals, settings.s3_bucket_thumbnails])


def run_eval(args: argparse.Namespace) -> int:
    from imgsearch.evaluation.report import build_report, print_report
    from imgsearch.evaluation.run import evaluate
    from imgsearch.scenebench import SceneConfig, generate

    console = Console(stderr=True)
    queries = {"n_object_queries": args.object_queries, "n_scene_queries": args.scene_queries}
    # The split identities only: with the 1,053 train-only ones, most train identities would sit in one scene of
    # 300, a different task from the test split's 66 identities, so train and test numbers would not compare.
    split_only = SceneConfig(train_only_identities=False)
    bench = generate(args.seed, args.scenes, split=args.split, config=split_only, **queries)
    steps = len(bench.scenes(args.split)) + sum(q.split == args.split for q in bench.queries)
    with (
        _eval_settings(Settings(), args.backend, args.models) as settings,
        opened_core(settings) as core,
        Progress(console=console, transient=True) as progress,
    ):
        task = progress.add_task("ingest, then search", total=steps)
        ingest, outcomes = evaluate(bench, core, args.split, args.k, args.iou, lambda: progress.advance(task))
    model_id = core.pipeline.model_id
    report = build_report(_setup(args, settings, model_id), ingest, outcomes, args.iou)
    # Written to a file or a pipe, the table keeps its full width rather than rich's 80 columns.
    print_report(report, Console() if sys.stdout.isatty() else Console(width=140))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {args.json}")
    return 0


def _setup(args: argparse.Namespace, settings: Settings, model_id: str) -> dict[str, Any]:
    return {
        "seed": args.seed,
        "split": args.split,
        "scenes": args.scenes,
        "object_queries": args.object_queries,
        "scene_queries": args.scene_queries,
        "k": args.k,
        "iou_threshold": args.iou,
        "backend": "elasticsearch+minio" if args.backend == "servers" else "embedded",
        "models": settings.models,
        "model_id": model_id,
        "num_candidates": settings.num_candidates,
        "query_expansion": settings.query_expansion,
    }


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eval", help="measure search quality on a generated SceneBench split")
    parser.add_argument("--backend", choices=["embedded", "servers"], default="embedded")
    parser.add_argument("--models", choices=["starter", "pretrained"], default="starter")
    parser.add_argument("--split", choices=["train", "test"], default="test")
    parser.add_argument("--seed", type=int, default=1, help="scene seed (the identity split is fixed)")
    parser.add_argument("--scenes", type=int, default=300, help="gallery scenes")
    parser.add_argument("--object-queries", type=int, default=100)
    parser.add_argument("--scene-queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=100, help="ranked images per query (mAP@k)")
    parser.add_argument("--iou", type=float, default=0.5, help="box IoU that counts as found")
    parser.add_argument("--json", default=None, help="also write the report here")
    parser.set_defaults(handler=run_eval)
