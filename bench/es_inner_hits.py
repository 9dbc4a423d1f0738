"""What a nested kNN search costs Elasticsearch by the shape of its request: inner hits with and without `_source`.

    .venv/bin/python bench/es_inner_hits.py [--dims 384] [--vectors 100000] [--clients 4] [--rounds 2]
        (needs Elasticsearch up: `scripts/services up`, or --es-url)

One force-merged index of the recall data (bench/recall_data.py: clustered unit vectors, five objects an image),
built through `ElasticsearchIndex`, searched by `--clients` threads with k 11 and num_candidates 50 in these shapes:

- product: `ElasticsearchIndex.search`, as the API runs it (inner hits without `_source`; the hit's own source
  holds its objects without vectors, each match read at its nested offset)
- inner hits with source: the earlier request, each inner hit carrying its object's `_source`
- no inner hits: the same kNN returning images only, the floor of any request that names matched boxes

Per shape: Elasticsearch CPU ms per query (from /proc, so Elasticsearch must run on this machine), this process's
CPU ms per query, and queries/s per core (throughput / cores). Shapes alternate round by round; each prints its
round with the least Elasticsearch CPU.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from elasticsearch.helpers import pack_dense_vector
from process_cpu import process_cpu_seconds
from recall_data import MODEL_ID, TOP_K, add_all, make_dataset
from rich.console import Console
from rich.table import Table

from imgsearch.connections import elasticsearch_client
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.es_documents import HIT_SOURCE
from imgsearch.index.types import VectorQuery
from imgsearch.maintenance import drop_es_alias
from imgsearch.settings import REPO_ROOT, Settings
from pipeline.records import ObjectKind

KINDS = (ObjectKind.OBJECT, ObjectKind.IMAGE)
CANDIDATES = 50
CORES = os.cpu_count() or 1


def shapes(index: ElasticsearchIndex, alias: str) -> dict[str, Callable[[np.ndarray], Any]]:
    client = index.client

    def raw(inner_hits: dict[str, Any] | None, source: list[str]) -> Callable[[np.ndarray], Any]:
        def search(vector: np.ndarray) -> Any:
            knn = {"field": "objects.vector", "query_vector": pack_dense_vector(vector), "k": TOP_K + 1,
                   "num_candidates": CANDIDATES, "filter": []}  # fmt: skip
            if inner_hits is not None:
                knn["inner_hits"] = inner_hits
            return client.search(index=alias, knn=knn, size=TOP_K + 1, source=source)

        return search

    def product(vector: np.ndarray) -> Any:
        return index.search(VectorQuery(vector, MODEL_ID, k=TOP_K, kinds=KINDS, num_candidates=CANDIDATES))

    with_source = {"name": "matches", "size": 5, "_source": {"excludes": ["objects.vector"]}}
    return {
        "product (inner hits without _source)": product,
        "inner hits with _source": raw(with_source, ["width", "height"]),
        "no inner hits": raw(None, HIT_SOURCE),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--es-url", default="http://127.0.0.1:9200")
    args = parser.parse_args()
    console = Console(width=140)
    client = elasticsearch_client(Settings(es_url=args.es_url, s3_endpoint=None)).options(request_timeout=600)
    pid = next(iter(client.nodes.info(node_id="_local", metric="process")["nodes"].values()))["process"]["id"]
    data = make_dataset(args.dims, args.vectors, args.queries, seed=args.dims)
    alias = f"bench-inner-hits-{uuid.uuid4().hex[:10]}"
    index = ElasticsearchIndex(client, alias, REPO_ROOT / "es_mappings", CANDIDATES, refresh=False)
    try:
        index.ensure(MODEL_ID, args.dims)
        add_all(index, data.vectors, 200, console)
        client.indices.refresh(index=alias)
        index.optimize()
        searches = shapes(index, alias)

        def one_pass(search: Callable[[np.ndarray], Any]) -> tuple[float, float, float]:
            es_before, own_before, started = process_cpu_seconds(pid), time.process_time(), time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda rows: [search(row) for row in rows], np.array_split(data.queries, args.clients)))
            wall, count = time.perf_counter() - started, len(data.queries)
            es_ms = 1e3 * (process_cpu_seconds(pid) - es_before) / count
            return es_ms, 1e3 * (time.process_time() - own_before) / count, count / wall / CORES

        for search in searches.values():  # warm-up: the JIT and caches settle over the first passes
            for _ in range(5):
                one_pass(search)
        measured: dict[str, tuple[float, float, float]] = {}
        for _ in range(args.rounds):  # a fresh Elasticsearch keeps speeding up for thousands of queries: keep the best
            for name, search in searches.items():
                spent = one_pass(search)
                measured[name] = min(measured.get(name, spent), spent)
    finally:
        drop_es_alias(client, alias)
        client.close()
    title = f"{args.dims}-d, {args.vectors:,} vectors, one segment, {args.clients} clients, nc {CANDIDATES}"
    table = Table(title=title)
    for column in ("request", "Elasticsearch CPU ms / query", "client CPU ms / query", "QPS per core"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for name, (es_ms, own_ms, per_core) in measured.items():
        table.add_row(name, f"{es_ms:.2f}", f"{own_ms:.2f}", f"{per_core:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
