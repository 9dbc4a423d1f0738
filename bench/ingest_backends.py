"""Ingest images/s on Elasticsearch + MinIO against the embedded back end, the same images in one run.

    .venv/bin/python bench/ingest_backends.py [--images 400] [--repeats 2] [--models starter|real]
        (needs ES + MinIO up: `scripts/services up`, or IMGSEARCH_ES_URL / IMGSEARCH_S3_ENDPOINT)

Each pass ingests the same generated 640x480 scenes through `Ingestor.ingest_many` in batches of 8 (what sync
jobs and `imgsearch index` run), into a fresh store opened by `open_core` exactly as the product configures it
(Elasticsearch writes with refresh `wait_for`, so an ingest returns once its images are searchable). Both back
ends share one loaded pipeline. Passes alternate between the back ends and between the product's overlapped
writes (a batch is stored while the next one is computed) and the baseline that stores each batch before the next
one's models run (`writes_ahead=0`, one batch at a time in the models); a third mode overlaps the writes but keeps
one model lane (`model_lanes=1`, where the product runs two batches at once), to show what each overlap buys.
The fastest of `--repeats` passes counts. Goal: Elasticsearch + MinIO ≥ 0.8 x the embedded back end's images/s,
as the product runs (both overlaps).

`--models starter` (default): the committed starter models. `--models real`: yolo11n + ViT-S/14 at their real
architectures with random weights (nothing to download), four boxes per image from a near-zero threshold.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from bench_models import model_settings
from process_cpu import process_cpu_seconds
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs

from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.core import open_core
from imgsearch.ingest import WRITES_AHEAD, Ingestor
from imgsearch.maintenance import drop_buckets, drop_es_alias
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.settings import Settings
from pipeline.runner import Pipeline

BATCH = 8
# (writes overlapped, two model lanes): the product, the writes alone, neither.
MODES = {"product": (True, True), "writes only": (True, False), "inline": (False, False)}
MODE_LABELS = {
    "inline": "stored before the next batch, one model lane",
    "writes only": "writes overlapped, one model lane",
    "product": "writes overlapped, two model lanes (product)",
}
DEV_SERVICES = {"es_url": "http://127.0.0.1:9200", "s3_endpoint": "127.0.0.1:9000"}


def settings_for(backend: str, data_dir: Path, models: str) -> Settings:
    base = Settings()
    values: dict[str, object] = {"data_dir": data_dir, "es_url": None, "s3_endpoint": None}
    values |= model_settings(models)
    if backend == "servers":
        run = f"bench-ingest-{uuid.uuid4().hex[:10]}"
        values |= {"es_url": base.es_url or DEV_SERVICES["es_url"],
                   "s3_endpoint": base.s3_endpoint or DEV_SERVICES["s3_endpoint"], "es_index_alias": run,
                   "s3_bucket_originals": f"{run}-o", "s3_bucket_thumbnails": f"{run}-t"}  # fmt: skip
    return base.model_copy(update=values)


SERVERS = {
    "Elasticsearch": lambda argv: any(arg.endswith("org.elasticsearch.bootstrap.Elasticsearch") for arg in argv),
    "MinIO": lambda argv: Path(argv[0]).name.startswith("minio") and argv[1:2] == ["server"],
}


def server_pids() -> dict[str, int]:
    """The local Elasticsearch and MinIO processes, by what their command lines hold (none if they run elsewhere)."""
    found: dict[str, int] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_text().split("\0")
        except OSError:
            continue
        for name, is_server in SERVERS.items():
            if is_server(argv):
                found.setdefault(name, int(cmdline.parent.name))
    return found


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of this process and of each server."""
    spent = {"this process": time.process_time()}
    return spent | {name: process_cpu_seconds(pid) for name, pid in pids.items()}


def one_pass(backend: str, mode: str, images: list[bytes], pipeline: Pipeline, models: str,
             cpu_per_image: dict[str, float] | None = None) -> float:  # fmt: skip
    """Images/s of one ingest of every image into a fresh store; `cpu_per_image` gets each process's ms."""
    writes_overlapped, lanes_overlapped = MODES[mode]
    lanes = None if lanes_overlapped else 1  # None: the product's choice
    pipeline = Pipeline(replace(pipeline.config, model_lanes=lanes), pipeline.detector, pipeline.embedder)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        settings = settings_for(backend, Path(folder), models)
        core = open_core(settings, pipeline)
        try:
            writes_ahead = WRITES_AHEAD if writes_overlapped else 0
            ingestor = Ingestor(pipeline, core.index, core.blobs, writes_ahead=writes_ahead)
            sources = [(f"bench:{n}.jpg", lambda data=data: data) for n, data in enumerate(images)]
            pids = server_pids() if backend == "servers" else {}
            cpu_before, started = cpu_seconds(pids), time.perf_counter()
            failed = [
                name for name, outcome in ingestor.ingest_many(sources, (), BATCH) if isinstance(outcome, Exception)
            ]
            seconds = time.perf_counter() - started
            if cpu_per_image is not None:
                cpu_after = cpu_seconds(pids)
                cpu_per_image |= {name: 1e3 * (cpu_after[name] - cpu_before[name]) / len(images) for name in cpu_after}
            if failed or core.index.image_count() != len(images):
                raise SystemExit(f"{backend}: {len(failed)} images failed, {core.index.image_count()} indexed")
        finally:
            core.close()
            if backend == "servers":
                with elasticsearch_client(settings) as client:
                    drop_es_alias(client, settings.es_index_alias)
                drop_buckets(minio_client(settings), [settings.s3_bucket_originals, settings.s3_bucket_thumbnails])
    return len(images) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", choices=["starter", "real"], default="starter")
    args = parser.parse_args()
    console = Console(width=140)
    images = generated_jpegs(args.images, seed=5)
    with tempfile.TemporaryDirectory() as folder:
        pipeline = build_pipeline(settings_for("embedded", Path(folder), args.models))
        pipeline.load()
    console.print(f"{args.images} images, batches of {BATCH}, model {pipeline.model_id}; warming up")
    one_pass("embedded", "product", images[:16], pipeline, args.models)
    best: dict[tuple[str, str], float] = {}
    for repeat in range(args.repeats):
        for mode in MODES:
            for backend in ("embedded", "servers") if repeat % 2 == 0 else ("servers", "embedded"):
                cpu: dict[str, float] = {}
                rate = one_pass(backend, mode, images, pipeline, args.models, cpu)
                best[backend, mode] = max(best.get((backend, mode), 0.0), rate)
                spent = ", ".join(f"{name} {ms:.1f}" for name, ms in cpu.items())
                console.print(f"  pass {repeat + 1}: {backend:8} {mode:11} "
                              f"{rate:.2f} images/s; CPU ms per image: {spent}")  # fmt: skip
    table = Table(title=f"ingest images/s, best of {args.repeats} ({args.models} models)")
    for column in ("writes", "embedded", "Elasticsearch + MinIO", "ES / embedded"):
        table.add_column(column, justify="right")
    for mode in reversed(MODES):
        embedded, servers = best["embedded", mode], best["servers", mode]
        table.add_row(MODE_LABELS[mode], f"{embedded:.2f}", f"{servers:.2f}", f"{servers / embedded:.2f}")
    console.print(table)
    for backend in ("embedded", "servers"):
        writes = best[backend, "writes only"] / best[backend, "inline"]
        lanes = best[backend, "product"] / best[backend, "writes only"]
        console.print(f"{backend}: writes overlapped / inline {writes:.2f}; two model lanes / one {lanes:.2f}")
    ratio = best["servers", "product"] / best["embedded", "product"]
    console.print(f"goal ES / embedded ≥ 0.8 (product): {ratio:.2f} {'met' if ratio >= 0.8 else 'NOT met'}")


if __name__ == "__main__":
    main()
