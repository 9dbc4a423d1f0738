"""What a nested kNN search costs Elasticsearch by the shape of its request: inner hits, or an f16 vector copy.

    .venv/bin/python bench/es_inner_hits.py [--dims 384] [--vectors 100000] [--clients 4] [--rounds 5]
        (needs Elasticsearch up: `scripts/services up`, or --es-url)

One force-merged index of the recall data (bench/recall_data.py: clustered unit vectors, five objects an image),
built through `ElasticsearchIndex`, searched by `--clients` threads for 10 images, num_candidates 50, in these shapes:

- product: `ElasticsearchIndex.search`, as the API runs it (inner hits without `_source`; the hit's own source
  holds its objects without vectors, each match read at its nested offset)
- inner hits with source: the earlier request, each inner hit carrying its object's `_source`
- inner hits of one match: the product's request naming only each image's best object (it shows up to five)
- no inner hits: the same kNN returning images with their objects' source, the floor of any request that names
  matched boxes
- no inner hits, no source: images only, what the kNN itself costs
- vector copy, scored here: a second index whose documents also carry an f16 copy of their objects' vectors in
  `_source` (a `binary` field); the kNN without inner hits fetches it with the hit's source and this process scores
  each hit's objects against the query (the product's request on that index is timed too: what the copy costs it)

Per shape: Elasticsearch CPU ms per query (from /proc, so Elasticsearch must run on this machine), this process's
CPU ms per query, and queries/s per core (throughput / cores). Shapes alternate round by round; each prints its
round with the least Elasticsearch CPU. Then both indexes' sizes, and how well the copy's matches agree with the
product's inner hits on the same index (same images, same objects in the same order, largest similarity difference).
"""

from __future__ import annotations

import argparse
import base64
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, pack_dense_vector
from process_cpu import process_cpu_seconds
from recall_data import MODEL_ID, OBJECTS_PER_IMAGE, TOP_K, add_all, entry, make_dataset
from rich.console import Console
from rich.table import Table

from imgsearch.connections import elasticsearch_client
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.es_documents import HIT_SOURCE, to_source
from imgsearch.index.types import VectorQuery
from imgsearch.maintenance import drop_es_alias
from imgsearch.settings import REPO_ROOT, Settings
from pipeline.records import ObjectKind

KINDS = (ObjectKind.OBJECT, ObjectKind.IMAGE)
CANDIDATES = 50
CORES = os.cpu_count() or 1
VECTOR_COPY = "vectors_f16"
MATCHES_PER_IMAGE = 5
AGREEMENT_QUERIES = 50

ImageMatches = dict[str, list[tuple[int, float]]]  # image id -> (object index, similarity), best first


def add_with_vector_copy(client: Elasticsearch, alias: str, vectors: np.ndarray) -> None:
    """The recall data's documents, each with its objects' vectors once more as little-endian f16 in `_source`."""

    def actions() -> Iterator[dict[str, Any]]:
        for number in range(len(vectors) // OBJECTS_PER_IMAGE):
            image = entry(vectors, number)
            copy = base64.b64encode(np.asarray(image.vectors, dtype="<f2").tobytes()).decode()
            source = to_source(image) | {VECTOR_COPY: copy}
            yield {"_op_type": "create", "_index": alias, "_id": image.document.image_id, "_source": source}

    bulk(client, actions(), chunk_size=200, max_chunk_bytes=20 * 1024 * 1024)


def product_query(vector: np.ndarray, matches: int = MATCHES_PER_IMAGE) -> VectorQuery:
    return VectorQuery(vector, MODEL_ID, k=TOP_K, kinds=KINDS, num_candidates=CANDIDATES, matches_per_image=matches)


def copy_scored(copy_index: ElasticsearchIndex) -> Callable[[np.ndarray], ImageMatches]:
    """The product's kNN section without inner hits; each hit's matches are its objects scored here against the
    f16 copy."""

    def search(vector: np.ndarray) -> ImageMatches:
        knn = copy_index.knn_section(product_query(vector), vector)
        found = copy_index.client.search(index=copy_index.alias, knn=knn, size=TOP_K, source=[*HIT_SOURCE, VECTOR_COPY])
        images = {}
        for hit in found["hits"]["hits"]:
            objects = hit["_source"]["objects"]
            copy = np.frombuffer(base64.b64decode(hit["_source"][VECTOR_COPY]), dtype="<f2")
            similarities = copy.reshape(len(objects), -1).astype(np.float32) @ vector
            best = np.argsort(-similarities)[:MATCHES_PER_IMAGE]
            images[hit["_id"]] = [(objects[at]["index"], float(similarities[at])) for at in best]
        return images

    return search


def agreement(copy_index: ElasticsearchIndex, queries: np.ndarray) -> str:
    """The copy's matches against the product's inner hits, both on the index with the copy (the same graph)."""
    scored = copy_scored(copy_index)
    hits = same_images = same_matches = 0
    differences = [0.0]
    for vector in queries:
        copy_matches = scored(vector)
        for hit in copy_index.search(product_query(vector)).hits:
            hits += 1
            mine = copy_matches.get(hit.image_id)
            if mine is None:
                continue
            same_images += 1
            same_matches += [match.object_index for match in hit.matches] == [index for index, _ in mine]
            scored_here = dict(mine)
            differences += [
                abs(m.similarity - scored_here[m.object_index]) for m in hit.matches if m.object_index in scored_here
            ]
    return (
        f"{same_images} of {hits} images the same, {same_matches} with the same matches in the same order; "
        f"similarities within {max(differences):.1e}"
    )


def shapes(
    index: ElasticsearchIndex, alias: str, copy_index: ElasticsearchIndex
) -> dict[str, Callable[[np.ndarray], Any]]:
    client = index.client

    def raw(inner_hits: dict[str, Any] | None, source: list[str] | bool) -> Callable[[np.ndarray], Any]:
        def search(vector: np.ndarray) -> Any:
            knn = {"field": "objects.vector", "query_vector": pack_dense_vector(vector), "k": TOP_K + 1,
                   "num_candidates": CANDIDATES, "filter": []}  # fmt: skip
            if inner_hits is not None:
                knn["inner_hits"] = inner_hits
            return client.search(index=alias, knn=knn, size=TOP_K + 1, source=source)

        return search

    def product(on: ElasticsearchIndex, matches: int = MATCHES_PER_IMAGE) -> Callable[[np.ndarray], Any]:
        return lambda vector: on.search(product_query(vector, matches))

    with_source = {"name": "matches", "size": MATCHES_PER_IMAGE, "_source": {"excludes": ["objects.vector"]}}
    return {
        "product (inner hits without _source)": product(index),
        "inner hits with _source": raw(with_source, ["width", "height"]),
        "inner hits of one match": product(index, matches=1),
        "no inner hits": raw(None, HIT_SOURCE),
        "no inner hits, no source": raw(None, False),
        "product, on the index with the f16 copy": product(copy_index),
        "f16 copy in the hit source, scored here": copy_scored(copy_index),
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
    alias, copy_alias = (f"bench-inner-hits-{uuid.uuid4().hex[:10]}" for _ in range(2))
    index = ElasticsearchIndex(client, alias, REPO_ROOT / "es_mappings", CANDIDATES, refresh=False)
    copy_index = ElasticsearchIndex(client, copy_alias, REPO_ROOT / "es_mappings", CANDIDATES, refresh=False)
    try:
        index.ensure(MODEL_ID, args.dims)
        add_all(index, data.vectors, 200, console)
        copy_index.ensure(MODEL_ID, args.dims)
        client.indices.put_mapping(index=copy_alias, properties={VECTOR_COPY: {"type": "binary"}})
        add_with_vector_copy(client, copy_alias, data.vectors)
        for each in (index, copy_index):
            client.indices.refresh(index=each.alias)
            console.print(f"  {each.alias}: {each.optimize()}")
        searches = shapes(index, alias, copy_index)
        agreed = agreement(copy_index, data.queries[:AGREEMENT_QUERIES])
        sizes = {each.alias: each.stats().size_bytes / 1e6 for each in (index, copy_index)}

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
        drop_es_alias(client, copy_alias)
        client.close()
    title = f"{args.dims}-d, {args.vectors:,} vectors, one segment, {args.clients} clients, nc {CANDIDATES}"
    table = Table(title=title)
    for column in ("request", "Elasticsearch CPU ms / query", "client CPU ms / query", "QPS per core"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for name, (es_ms, own_ms, per_core) in measured.items():
        table.add_row(name, f"{es_ms:.2f}", f"{own_ms:.2f}", f"{per_core:.0f}")
    console.print(table)
    console.print(
        f"index {sizes[alias]:.0f} MB, with the f16 copy {sizes[copy_alias]:.0f} MB; the copy's matches: {agreed}"
    )


if __name__ == "__main__":
    main()
