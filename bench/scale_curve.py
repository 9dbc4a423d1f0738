"""The scale curve: search latency, recall, memory, disk and ingest rate at 1K → 10K → 100K images, both back ends.

    .venv/bin/python bench/scale_curve.py [--dims 384 2048] [--sizes 1000 10000 100000] [--queries 200]
        [--backends es embedded]   (es: needs Elasticsearch up, `scripts/services up`, or IMGSEARCH_ES_URL)

Data: clustered unit vectors as in bench/index_recall.py, drawn so that every prefix is clustered too (see
`growing_library`), five objects an image (object 0 the whole image), written through the product's index
classes (`ElasticsearchIndex.add` / `EmbeddedIndex.add`, 500 images a call). One index per back end and dimension
grows through the sizes; at each size, after the images of that step are added, it is optimized (the product does
so after an import of 1,000 images or more, `IMGSEARCH_OPTIMIZE_AFTER_IMPORT`), then searched.

Searches go through `Searcher.by_image_id` — "more like this image", the product's search path without the models
(the stored vectors of the image's main object; the image itself left out; matched boxes chosen) — one client,
sequential, `--queries` random images among those indexed, timed after one warm-up pass of the same queries (a
freshly merged segment is not in the page cache yet; a serving node's would be). Recall@10: the top 10 images
against exact search with the same vector over every indexed image but the query's own (numpy float32), with
query expansion off (it moves the query on purpose); p50/p95 with expansion off and, "p50 expand", with the
product's default (on: a second kNN).
"nc N": the same queries with `num_candidates` N (ES candidates per shard; embedded: the beam, ef), for the
recall a larger library needs.

Memory: embedded, this process's resident set growth since the empty index (graph, object table, SQLite cache);
Elasticsearch, the off-heap bytes its vector files need to be searched from memory (Lucene's own count of the
quantized vectors and the HNSW graph, `_stats` dense_vector off_heap, less the float copy kept for rescoring),
which is what its RAM sizing is about. Disk:
the index's files (embedded: its folder; Elasticsearch: store size of the primary). Ingest: documents/s of the
step's adds (with the index growing), optimize not included (its seconds are printed apart).

Goal (issue "Beyond one machine"): p50 at 100K ≤ 2 x p50 at 1K and recall@10 ≥ 0.99 at every size, both back ends.
The fitted line per metric is least squares on log10(images): metric ≈ a + b log10(images). `--ties` prints
instead how far the true 10th image leads the 11th (the margin an approximate search must resolve).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from recall_data import (
    MODEL_ID,
    NOISE_NORM,
    OBJECTS_PER_IMAGE,
    TOP_K,
    VECTORS_PER_CLUSTER,
    entry,
    image_id,
    unit_rows,
)
from rich.console import Console
from rich.table import Table

from imgsearch.connections import elasticsearch_client
from imgsearch.index.base import VectorIndex
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.embedded import EmbeddedIndex
from imgsearch.maintenance import drop_es_alias
from imgsearch.query_sessions import QuerySessions
from imgsearch.search import Searcher, SearchOptions, SearchTuning
from imgsearch.settings import REPO_ROOT, Settings

IMAGES_PER_CALL = 500
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Point:
    images: int
    p50_ms: float
    p95_ms: float
    p50_expand_ms: float
    recall: float
    ram_bytes: float
    disk_bytes: float
    docs_per_s: float
    optimize_s: float
    wider: tuple[tuple[int, float, float], ...] = ()  # (num_candidates, p50 ms, recall@10) with a wider search


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_SIZE


def folder_bytes(folder: Path) -> int:
    return sum(file.stat().st_size for file in folder.rglob("*") if file.is_file())


class Backend:
    """One growing index of one back end, with its memory and disk measures."""

    def __init__(self, name: str, dim: int, scratch: Path) -> None:
        self.name, self.dim = name, dim
        self.rss_before = rss_bytes()
        if name == "es":
            settings = Settings()
            self.client = elasticsearch_client(settings.model_copy(update={"es_request_timeout_s": 600}))
            self.alias = f"bench-scale-{dim}-{uuid.uuid4().hex[:8]}"
            self.index: VectorIndex = ElasticsearchIndex(self.client, self.alias, REPO_ROOT / "es_mappings",
                                                         refresh=False)  # fmt: skip
        else:
            self.folder = scratch / f"embedded-{dim}"
            # As the product opens it (backends.build_index): the beam is the num_candidates setting.
            self.index = EmbeddedIndex(self.folder, ef_search_default=Settings().num_candidates)
        self.index.ensure(MODEL_ID, dim)

    def ram_bytes(self) -> float:
        if self.name == "es":
            stats = self.client.indices.stats(index=self.alias, metric="dense_vector")["_all"]["primaries"]
            off_heap = stats.get("dense_vector", {}).get("off_heap", {})
            # Searching reads the quantized vectors and the graph; the float copy (.vec) only for rescoring.
            return float(off_heap.get("total_size_bytes", float("nan")) - off_heap.get("total_vec_size_bytes", 0))
        gc.collect()
        return float(rss_bytes() - self.rss_before)

    def disk_bytes(self) -> float:
        if self.name == "es":
            stats = self.client.indices.stats(index=self.alias, metric="store")["_all"]["primaries"]
            return float(stats["store"]["size_in_bytes"])
        return float(folder_bytes(self.folder))

    def close(self) -> None:
        if self.name == "es":
            drop_es_alias(self.client, self.alias)
        self.index.close()


def searcher_for(index: VectorIndex, expand: bool) -> Searcher:
    # "More like this" needs no models: only their id, which the stand-in pipeline carries.
    stand_in: Any = SimpleNamespace(model_id=MODEL_ID)
    sessions = QuerySessions(1, 1, 1.0)
    return Searcher(stand_in, index, blobs=None, sessions=sessions, tuning=SearchTuning(expand_by_default=expand))  # type: ignore[arg-type]


def exact_top(vectors: np.ndarray, images: int, query: np.ndarray, own: int) -> set[int]:
    scores = (vectors[: images * OBJECTS_PER_IMAGE] @ query).reshape(images, OBJECTS_PER_IMAGE).max(axis=1)
    scores[own] = -np.inf
    return set(np.argpartition(-scores, TOP_K)[:TOP_K].tolist())


def wider_pass(backend: Backend, vectors: np.ndarray, images: int, queries: int, seed: int, candidates: int
               ) -> tuple[int, float, float]:  # fmt: skip
    """p50 and recall@10 of the same queries asking for more kNN candidates (ES) / a wider beam (embedded)."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(images, size=min(queries, images), replace=False)
    options = SearchOptions(k=TOP_K, expand=False, all_matches=True, num_candidates=candidates)
    searcher = searcher_for(backend.index, False)
    latencies, hits = [], 0
    for number in chosen:
        started = time.perf_counter()
        outcome = searcher.by_image_id(image_id(int(number)), options)
        latencies.append(time.perf_counter() - started)
        hits += len(found_in_truth(outcome, vectors, images, int(number)))
    return candidates, float(np.percentile(np.array(latencies) * 1000, 50)), hits / (len(chosen) * TOP_K)


def found_in_truth(outcome: Any, vectors: np.ndarray, images: int, number: int) -> set[int]:
    used = outcome.query.used
    position = used.object + 1 if used.object is not None else 0  # detected objects follow the whole image
    query = vectors[number * OBJECTS_PER_IMAGE + position]
    found = {int(hit.image_id, 16) for hit in outcome.page.hits[:TOP_K]}
    return found & exact_top(vectors, images, query, number)


def measure(backend: Backend, vectors: np.ndarray, images: int, queries: int, seed: int) -> tuple[float, ...]:
    rng = np.random.default_rng(seed)
    chosen = rng.choice(images, size=min(queries, images), replace=False)
    options = SearchOptions(k=TOP_K, expand=False, all_matches=True)
    plain, expanding = searcher_for(backend.index, False), searcher_for(backend.index, True)
    for number in chosen:  # warm-up, every query once: the merged segment's pages are not in the page cache yet
        plain.by_image_id(image_id(int(number)), options)
    latencies, expand_latencies, hits = [], [], 0
    for number in chosen:
        started = time.perf_counter()
        outcome = plain.by_image_id(image_id(int(number)), options)
        latencies.append(time.perf_counter() - started)
        hits += len(found_in_truth(outcome, vectors, images, int(number)))
        started = time.perf_counter()
        expanding.by_image_id(image_id(int(number)), SearchOptions(k=TOP_K))
        expand_latencies.append(time.perf_counter() - started)
    ms = np.array(latencies) * 1000
    return (float(np.percentile(ms, 50)), float(np.percentile(ms, 95)),
            float(np.percentile(np.array(expand_latencies) * 1000, 50)), hits / (len(chosen) * TOP_K))  # fmt: skip


def growing_library(dim: int, vector_count: int, seed: int) -> np.ndarray:
    """Clustered unit vectors whose every prefix is clustered too: vector i joins one of the i / 50 clusters seen
    so far (uniformly; a new subject appears every 50 vectors, old ones recur), as its centre plus noise of
    norm ~1 (cosine ~0.5 to cluster mates, ~0 to the rest, as in recall_data.py). With fixed clusters drawn for
    the largest size, the first 1,000 images would hold about one vector a cluster: nothing but near-ties."""
    rng = np.random.default_rng(seed)
    cluster_count = max(1, vector_count // VECTORS_PER_CLUSTER)
    centres = unit_rows(rng.standard_normal((cluster_count, dim), dtype=np.float32))
    seen = np.maximum(1, np.arange(vector_count) // VECTORS_PER_CLUSTER)
    membership = (rng.random(vector_count) * seen).astype(np.int64)
    noise = rng.standard_normal((vector_count, dim), dtype=np.float32) * np.float32(NOISE_NORM / np.sqrt(dim))
    return unit_rows(centres[membership] + noise)


def curve(
    name: str, dim: int, sizes: list[int], queries: int, wider: list[int], scratch: Path, console: Console
) -> list[Point]:
    vectors = growing_library(dim, max(sizes) * OBJECTS_PER_IMAGE, seed=dim)
    backend = Backend(name, dim, scratch)
    points, added = [], 0
    try:
        for size in sizes:
            started = time.perf_counter()
            for first in range(added, size, IMAGES_PER_CALL):
                backend.index.add([entry(vectors, n) for n in range(first, min(first + IMAGES_PER_CALL, size))])
            backend.index.make_writes_visible()
            docs_per_s = (size - added) / (time.perf_counter() - started)
            added = size
            started = time.perf_counter()
            backend.index.optimize()
            optimize_s = time.perf_counter() - started
            p50, p95, p50_expand, recall = measure(backend, vectors, size, queries, seed=size)
            widened = tuple(wider_pass(backend, vectors, size, queries, size, n) for n in wider)
            point = Point(size, p50, p95, p50_expand, recall, backend.ram_bytes() / size, backend.disk_bytes() / size,
                          docs_per_s, optimize_s, widened)  # fmt: skip
            console.print(f"  {name} {dim}-d {size:,}: {point}")
            points.append(point)
    finally:
        backend.close()
    return points


def tie_gaps(dim: int, images: int, queries: int = 100) -> tuple[float, float, float]:
    """The exact search's own margin at the 10th place: (median cosine of the true 10th image, median and 10th
    percentile of its lead over the 11th), for the main-object queries this bench asks."""
    vectors = growing_library(dim, images * OBJECTS_PER_IMAGE, seed=dim)
    rng = np.random.default_rng(1)
    tenth, gaps = [], []
    for number in rng.choice(images, size=queries, replace=False):
        scores = (vectors @ vectors[number * OBJECTS_PER_IMAGE + 1]).reshape(images, OBJECTS_PER_IMAGE).max(axis=1)
        scores[number] = -np.inf
        best = np.sort(scores)[-(TOP_K + 1) :][::-1]
        tenth.append(best[TOP_K - 1])
        gaps.append(best[TOP_K - 1] - best[TOP_K])
    return float(np.median(tenth)), float(np.median(gaps)), float(np.percentile(gaps, 10))


def fitted(images: list[int], values: list[float]) -> str:
    if len(images) < 2 or not all(np.isfinite(values)):
        return "-"
    slope, intercept = np.polyfit(np.log10(images), values, 1)
    return f"{intercept:.3g} {'+' if slope >= 0 else '-'} {abs(slope):.3g}·log10(n)"


def report(results: dict[tuple[str, int], list[Point]], console: Console) -> None:
    for (name, dim), points in results.items():
        table = Table(title=f"{'Elasticsearch' if name == 'es' else 'embedded'}, {dim}-d, five vectors an image")
        columns = ["images", "p50 ms", "p95 ms", "p50 expand ms", "recall@10", "RAM B/image", "disk B/image",
                   "ingest docs/s", "optimize s"]  # fmt: skip
        columns += [f"nc {n}: p50 ms / recall" for n, _, _ in points[0].wider]
        for column in columns:
            table.add_column(column, justify="right")
        for p in points:
            table.add_row(f"{p.images:,}", f"{p.p50_ms:.2f}", f"{p.p95_ms:.2f}", f"{p.p50_expand_ms:.2f}",
                          f"{p.recall:.3f}", f"{p.ram_bytes:,.0f}", f"{p.disk_bytes:,.0f}", f"{p.docs_per_s:,.0f}",
                          f"{p.optimize_s:.1f}", *(f"{ms:.2f} / {r:.3f}" for _, ms, r in p.wider))  # fmt: skip
        sizes = [p.images for p in points]
        table.add_row("fit", *(fitted(sizes, [getattr(p, field) for p in points]) for field in
                               ("p50_ms", "p95_ms", "p50_expand_ms", "recall", "ram_bytes", "disk_bytes",
                                "docs_per_s", "optimize_s")))  # fmt: skip
        console.print(table)
        ratio = points[-1].p50_ms / points[0].p50_ms
        console.print(f"p50 at {sizes[-1]:,} / p50 at {sizes[0]:,}: {ratio:.2f} (goal ≤ 2); "
                      f"lowest recall@10 {min(p.recall for p in points):.3f} (goal ≥ 0.99)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 2048])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="+", choices=["es", "embedded"], default=["es", "embedded"])
    parser.add_argument("--wider", type=int, nargs="*", default=[300], help="num_candidates of extra passes")
    parser.add_argument("--ties", action="store_true", help="only the exact search's margin at the 10th place")
    args = parser.parse_args()
    console = Console(width=160)
    if args.ties:
        for dim in args.dims:
            cosine, gap, low = tie_gaps(dim, max(args.sizes))
            console.print(f"{dim}-d, {max(args.sizes):,} images: the true 10th at cosine {cosine:.3f} leads the 11th "
                          f"by a median {gap:.4f} (10th percentile {low:.5f})")  # fmt: skip
        return
    results: dict[tuple[str, int], list[Point]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        for dim in args.dims:
            for name in args.backends:
                results[(name, dim)] = curve(name, dim, sorted(args.sizes), args.queries, args.wider, Path(scratch),
                                             console)  # fmt: skip
    report(results, console)


if __name__ == "__main__":
    main()
