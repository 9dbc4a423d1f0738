"""A search by file against its floor: one detector call, one region vector and one kNN, in the same run.

    .venv/bin/python bench/query_floor.py [--models starter|real] [--gallery 200] [--queries 30]

The embedded back end in a temporary folder holds `--gallery` generated scenes (ingested through the product).
Each query image is searched three ways, one after the other:

- API: `POST /api/v1/search` with the file (uvicorn on 127.0.0.1, this process), as a client sees it;
- searcher: `Searcher.by_bytes`, the same search without HTTP;
- floor: the model calls that search made, replayed (its detector predict with the same views and augmentation,
  its first embedder forward on the same tensor), plus one `index.search` with the vector it searched with. A
  search cannot cost less: this is the goal's baseline.

Printed per way: p50 and p95 in ms, and p50 / floor p50 (goal ≤ 1.2). The calls column counts what a search made
beyond the floor (detector calls, embedder forwards, kNN searches), which is where the difference lies.
`--models real`: yolo11n + ViT-S/14 at their real architectures with random weights.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from pipeline_throughput import ModelCalls, recording
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs
from search_concurrency import served, settings_for

from api.main import create_app
from imgsearch.core import open_core
from imgsearch.index.base import VectorIndex
from imgsearch.index.types import SearchPage, VectorQuery
from imgsearch.search import SearchOptions
from pipeline.runner import Pipeline

K = 24  # the UI's page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=["starter", "real"], default="starter")
    parser.add_argument("--gallery", type=int, default=200)
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    console = Console(width=140)
    gallery, queries = generated_jpegs(args.gallery, seed=31), generated_jpegs(args.queries, seed=32)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as folder:
        settings = settings_for(Path(folder), args.models, shared=True)
        core = open_core(settings)
        sources = [(f"g{n}.jpg", lambda data=data: data) for n, data in enumerate(gallery)]
        if any(isinstance(outcome, Exception) for _, outcome in core.ingestor.ingest_many(sources)):
            raise SystemExit("the gallery did not index")
        pipeline = core.pipeline
        core.close()  # the API below opens the same folder
        api_ms, searcher_ms, floor_ms, extra_calls = [], [], [], []
        app = create_app(settings, pipeline)
        with served(settings, pipeline, app) as url, httpx.Client(base_url=url, timeout=120) as client:
            served_core = app.state.services.core  # the same pipeline, index and query sessions as the API's
            for data in queries[:3]:  # warm up both ways
                client.post("/api/v1/search", files={"file": ("q.jpg", data, "image/jpeg")}, data={"k": str(K)})
                served_core.searcher.by_bytes(data, SearchOptions(k=K))
            for data in queries:
                started = time.perf_counter()
                response = client.post("/api/v1/search", files={"file": ("q.jpg", data, "image/jpeg")},
                                       data={"k": str(K)})  # fmt: skip
                api_ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                knn = KnnCounter(served_core.index)
                try:
                    with recording(pipeline) as calls:
                        started = time.perf_counter()
                        outcome = served_core.searcher.by_bytes(data, SearchOptions(k=K))
                        searcher_ms.append((time.perf_counter() - started) * 1000)
                finally:
                    knn.undo()
                session = served_core.searcher.sessions.get(outcome.query.query_id or "")
                vector = next(iter(session.vectors.values()))
                floor_ms.append(floor(pipeline, calls, served_core.index, vector))
                extra_calls.append((len(calls.detector) - 1, len(calls.embedder) - 1, knn.count - 1))
    table = Table(title=f"search by file, k={K}, {args.gallery} images indexed ({args.models} models)")
    for column in ("way", "p50 ms", "p95 ms", "p50 / floor p50"):
        table.add_column(column, justify="right")
    floor_p50 = statistics.median(floor_ms)
    for name, values in (("POST /api/v1/search", api_ms), ("Searcher.by_bytes", searcher_ms), ("floor", floor_ms)):
        p50 = statistics.median(values)
        table.add_row(name, f"{p50:.1f}", f"{np.percentile(values, 95):.1f}", f"{p50 / floor_p50:.2f}")
    console.print(table)
    detector, embedder, knn = (statistics.mean(column) for column in zip(*extra_calls, strict=True))
    console.print(f"beyond the floor, per search: {detector:.2f} detector calls, {embedder:.2f} embedder forwards, "
                  f"{knn:.2f} kNN searches")  # fmt: skip
    ratio = statistics.median(api_ms) / floor_p50
    console.print(f"goal API p50 ≤ 1.2 x floor: {ratio:.2f} {'met' if ratio <= 1.2 else 'NOT met'}")


class KnnCounter:
    """Counts the index's searches until `undo`."""

    def __init__(self, index: VectorIndex) -> None:
        self.index, self.count = index, 0
        search = index.search

        def counted(query: VectorQuery) -> SearchPage:
            self.count += 1
            return search(query)

        index.search = counted  # type: ignore[method-assign]

    def undo(self) -> None:
        del self.index.search  # type: ignore[method-assign]


def floor(pipeline: Pipeline, calls: ModelCalls, index: VectorIndex, vector: np.ndarray) -> float:
    """ms of the search's first detector call and first embedder forward, replayed, and one kNN with its vector."""
    started = time.perf_counter()
    views, augment = calls.detector[0]
    pipeline.detector.predict(views, augment=augment)
    pipeline.embedder.embed_tensor(calls.embedder[0])
    index.search(VectorQuery(vector, pipeline.model_id, k=K))
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
