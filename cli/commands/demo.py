"""`imgsearch demo`: a generated gallery, ingested with the starter models into the embedded index, then served."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from imgsearch.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from imgsearch.ingest import Ingestor

DEMO_DIR = REPO_ROOT / "var" / "demo"


def demo_settings(base: Settings, folder: Path) -> Settings:
    """The embedded back end under `folder` and the starter models, whatever servers the environment names."""
    return base.model_copy(update={"models": "starter", "es_url": None, "s3_endpoint": None, "data_dir": folder})


def prepare_gallery(
    ingestor: Ingestor, folder: Path, seed: int, n_scenes: int, n_queries: int, console: Console
) -> Path:
    """Generate and ingest the gallery (already indexed scenes skip the models); write sample queries to disk."""
    from rich.progress import Progress

    from imgsearch.scenebench import generate

    bench = generate(seed, n_scenes, split="test", n_object_queries=n_queries)
    queries = folder / "queries"
    queries.mkdir(parents=True, exist_ok=True)
    for query in bench.queries:
        (queries / f"{query.query_id}.jpg").write_bytes(query.jpeg_bytes)
    sources = [(f"scenebench/{s.scene_id}.jpg", (lambda data=s.jpeg_bytes: data)) for s in bench.test_scenes]
    added = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("ingesting the demo gallery", total=len(sources))
        for name, result in ingestor.ingest_many(sources, tags=("demo",)):
            if isinstance(result, Exception):
                raise RuntimeError(f"could not ingest {name}: {result}") from result
            added += not result.duplicate
            progress.advance(task)
    console.print(f"demo gallery: {len(sources)} images ({added} new) in {folder}")
    return queries


def run_demo(args: argparse.Namespace) -> int:
    from imgsearch.core import opened_core

    console = Console(stderr=True)
    settings = demo_settings(Settings(), Path(args.data_dir))
    with opened_core(settings) as core:
        queries = prepare_gallery(core.ingestor, settings.data_dir, args.seed, args.scenes, args.queries, console)
    console.print(f"query images to try (upload one, then click an object): {queries}")
    if args.no_serve:
        return 0
    from api.main import create_app
    from api.serve import serve
    from imgsearch.logging_setup import configure_logging

    configure_logging(settings.log_level)
    host, port = args.host or settings.host, args.port or settings.port
    console.print(f"open http://{host}:{port}/")
    # The app reuses the loaded models instead of loading them a second time.
    serve(create_app(settings, core.pipeline), settings, host, port)
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="generate a gallery, index it with the starter models, serve the UI")
    parser.add_argument("--scenes", type=int, default=120, help="gallery size")
    parser.add_argument("--queries", type=int, default=12, help="sample query images written to disk")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", default=str(DEMO_DIR), help="the demo's embedded index and blobs")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--no-serve", action="store_true", help="prepare the gallery and exit")
    parser.set_defaults(handler=run_demo)
