"""Images/s of the Ray engine against the local engine, the same images on Elasticsearch + MinIO, in one run.

    .venv/bin/python bench/ray_ingest.py [--images 400] [--repeats 1] [--models starter|real]

As root with `unshare` it re-runs itself in a network namespace that has only loopback and starts its own
Elasticsearch + MinIO there (`scripts/services`, from the installed copies, fresh data), so Ray's servers can
reach nothing off the machine; otherwise it uses the servers the settings name and a local Ray.

Both engines index the same generated 640x480 scenes, written as files, into fresh stores: the local one through
`Ingestor.ingest_many` as `imgsearch index` runs it (models loaded in this process, writes overlapped), the Ray
one through `ray_ingest_many` on a Ray already running on this machine (as a cluster would be), its actors
loading their models inside the timed run, as the local engine's `open_core` does inside its own. "Job" is the
whole run; "steady" counts from the first image stored to the last. Goal: Ray ≥ 0.8 x local, job images/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_models import model_settings
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs

from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.core import opened_core
from imgsearch.library_sources import list_sources
from imgsearch.maintenance import drop_buckets, drop_es_alias
from imgsearch.ray_engine import plan_for, ray_ingest_many
from imgsearch.settings import Settings

BATCH = 8
REPO = Path(__file__).resolve().parent.parent
MARKER = "IMGSEARCH_BENCH_NAMESPACE"


def in_loopback_namespace() -> None:
    """Re-run this script in a loopback-only network namespace with its own servers, where that is possible."""
    if os.environ.get(MARKER) or os.geteuid() != 0 or shutil.which("unshare") is None:
        return
    script = 'ip link set lo up && exec "$@"'
    env = os.environ | {MARKER: "1", "IMGSEARCH_SERVICES_STATE": tempfile.mkdtemp(prefix="bench-ray-services-")}
    args = ["unshare", "--net", "bash", "-c", script, "bench", sys.executable, *sys.argv]
    sys.exit(subprocess.run(args, env=env, check=False).returncode)


@contextmanager
def servers_started() -> Iterator[None]:
    if not os.environ.get(MARKER):
        yield
        return
    subprocess.run([REPO / "scripts" / "services", "up"], check=True, stdout=subprocess.DEVNULL)
    os.environ |= {"IMGSEARCH_ES_URL": "http://127.0.0.1:9200", "IMGSEARCH_S3_ENDPOINT": "127.0.0.1:9000"}
    try:
        yield
    finally:
        subprocess.run([REPO / "scripts" / "services", "down"], check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(os.environ["IMGSEARCH_SERVICES_STATE"], ignore_errors=True)


def fresh_settings(models: str, data_dir: Path) -> Settings:
    run = f"bench-ray-{uuid.uuid4().hex[:10]}"
    values: dict[str, object] = model_settings(models) | {
        "data_dir": data_dir, "es_index_alias": run, "s3_bucket_originals": f"{run}-o",
        "s3_bucket_thumbnails": f"{run}-t",
    }  # fmt: skip
    return Settings(**values)  # type: ignore[arg-type]


def local_pass(settings: Settings, folder: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    with opened_core(settings) as core:
        sources = list_sources([str(folder)], None, None).sources
        first = None
        stored = 0
        for _, outcome in core.ingestor.ingest_many(sources, batch_size=BATCH):
            first = first or time.perf_counter()
            stored += not isinstance(outcome, Exception)
    return time.perf_counter() - started, time.perf_counter() - (first or started), stored


def ray_pass(settings: Settings, folder: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    names = [name for name, _ in list_sources([str(folder)], None, None).sources]
    first = None
    stored = 0
    for name, outcome in ray_ingest_many(settings, names, batch_size=BATCH):
        first = first or time.perf_counter()
        if isinstance(outcome, Exception) and not stored:
            print(f"{name}: {outcome}")
        stored += not isinstance(outcome, Exception)
    return time.perf_counter() - started, time.perf_counter() - (first or started), stored


def drop(settings: Settings) -> None:
    drop_es_alias(elasticsearch_client(settings), settings.es_index_alias)
    drop_buckets(minio_client(settings), [settings.s3_bucket_originals, settings.s3_bucket_thumbnails])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--models", choices=["starter", "real"], default="starter")
    args = parser.parse_args()
    in_loopback_namespace()
    import ray

    with tempfile.TemporaryDirectory(prefix="bench-ray-") as scratch:
        folder = Path(scratch) / "images"
        folder.mkdir()
        for n, data in enumerate(generated_jpegs(args.images, seed=7)):
            (folder / f"{n:05d}.jpg").write_bytes(data)
        with servers_started():
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="WARNING")
            best: dict[str, tuple[float, float, int]] = {}
            for _ in range(args.repeats):
                for engine, run in (("local", local_pass), ("ray", ray_pass)):
                    settings = fresh_settings(args.models, Path(scratch) / engine)
                    try:
                        job_s, steady_s, stored = run(settings, folder)
                    finally:
                        drop(settings)
                    if engine not in best or job_s < best[engine][0]:
                        best[engine] = (job_s, steady_s, stored)
            plan = plan_for(Settings(), ray.cluster_resources(), BATCH)
            ray.shutdown()
    report(best, args, plan)


def report(best: dict[str, tuple[float, float, int]], args: argparse.Namespace, plan: object) -> None:
    table = Table(title=f"{args.images} images, {args.models} models, Elasticsearch + MinIO, {os.cpu_count()} cores")
    for column in ("engine", "stored", "job s", "job images/s", "steady images/s", "x local (job)"):
        table.add_column(column, justify="right")
    local_rate = best["local"][2] / best["local"][0]
    for engine, (job_s, steady_s, stored) in best.items():
        rate = stored / job_s
        steady = (stored - 1) / steady_s if steady_s > 0 else float("nan")
        table.add_row(engine, str(stored), f"{job_s:.1f}", f"{rate:.2f}", f"{steady:.2f}", f"{rate / local_rate:.2f}")
    console = Console()
    console.print(table)
    console.print(f"Ray plan: {plan}")


if __name__ == "__main__":
    main()
