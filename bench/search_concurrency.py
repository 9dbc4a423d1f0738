"""Searches by file from 1, 4 and 8 concurrent clients, with and without shared model batches, in one run.

    .venv/bin/python bench/search_concurrency.py [--models starter|real] [--requests 48] [--images 48]

Serves the API in this process (uvicorn on 127.0.0.1, a random port; the embedded back end in a temporary
folder), indexes `--images` generated scenes through it, then sends `--requests` searches by file (the main
object, a different query image each time) from each number of client threads, each client one request after
the other. Two servers, one run: one model call at a time (`IMGSEARCH_MODEL_WORKERS=1`, what the API did before
shared batches) and the product default (4 workers whose model calls meet in front of each model,
`IMGSEARCH_MODEL_BATCH_WAIT_MS`). Printed: throughput (searches/s) and latency p50/p95 per client count.
Goals: 8 clients' throughput ≥ 1.3 x one client's, and p95 ≤ 3 x p50 at 8 clients, with shared batches.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from bench_models import model_settings
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs

from api.main import create_app
from api.serve import server_limits
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.settings import Settings
from pipeline.runner import Pipeline

CLIENTS = (1, 4, 8)


def settings_for(folder: Path, models: str, shared: bool) -> Settings:
    values: dict[str, object] = {"data_dir": folder, "es_url": None, "s3_endpoint": None, "model_queue": 16,
                                 "model_workers": 4 if shared else 1}  # fmt: skip
    values |= model_settings(models)
    return Settings().model_copy(update=values)


@contextmanager
def served(settings: Settings, pipeline: Pipeline, app: FastAPI | None = None) -> Iterator[str]:
    """The API on a random loopback port while inside (`app`: one already made, to reach its state)."""
    app = app or create_app(settings, pipeline)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="warning",
                            **server_limits(settings))  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the API did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)


def index_images(url: str, images: list[bytes]) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        for start in range(0, len(images), 8):
            files = [
                ("files", (f"g{start + n}.jpg", data, "image/jpeg")) for n, data in enumerate(images[start : start + 8])
            ]
            client.post("/api/v1/images", files=files).raise_for_status()


def load(url: str, queries: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Throughput and every latency (ms) of the queries sent by `clients` threads, each one after the other."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for data in share:
                started = time.perf_counter()
                response = http.post("/api/v1/search", files={"file": ("q.jpg", data, "image/jpeg")}, data={"k": "12"})
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed)

    shares = [queries[n::clients] for n in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, shares))
    return len(queries) / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=["starter", "real"], default="starter")
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--images", type=int, default=48)
    args = parser.parse_args()
    console = Console(width=140)
    images, queries = generated_jpegs(args.images, seed=21), generated_jpegs(args.requests, seed=22)
    rows: dict[tuple[bool, int], tuple[float, float, float]] = {}
    for shared in (False, True):
        with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as folder:
            settings = settings_for(Path(folder), args.models, shared)
            pipeline = build_pipeline(settings)
            pipeline.load()
            with served(settings, pipeline) as url:
                index_images(url, images)
                load(url, queries[:8], 2)  # warm up
                for clients in CLIENTS:
                    rate, latencies = load(url, queries, clients)
                    p50, p95 = statistics.median(latencies), float(np.percentile(latencies, 95))
                    rows[shared, clients] = (rate, p50, p95)
                    console.print(f"  {'shared batches' if shared else 'one at a time':14} {clients} clients: "
                                  f"{rate:.2f}/s, p50 {p50:.0f} ms, p95 {p95:.0f} ms")  # fmt: skip
    table = Table(title=f"searches by file, {args.requests} per client count ({args.models} models)")
    for column in ("server", "clients", "searches/s", "x one client", "p50 ms", "p95 ms", "p95 / p50"):
        table.add_column(column, justify="right")
    for shared in (False, True):
        for clients in CLIENTS:
            rate, p50, p95 = rows[shared, clients]
            table.add_row("shared batches (default)" if shared else "one model call at a time", str(clients),
                          f"{rate:.2f}", f"{rate / rows[shared, 1][0]:.2f}", f"{p50:.0f}", f"{p95:.0f}",
                          f"{p95 / p50:.2f}")  # fmt: skip
    console.print(table)
    rate8, p50, p95 = rows[True, 8]
    scaling = rate8 / rows[True, 1][0]
    met = {True: "met", False: "NOT met"}
    console.print(f"goal 8-client throughput ≥ 1.3 x one client's: {scaling:.2f} {met[scaling >= 1.3]}; "
                  f"p95 ≤ 3 x p50 at 8 clients: {p95 / p50:.2f} {met[p95 <= 3 * p50]}")  # fmt: skip


if __name__ == "__main__":
    main()
