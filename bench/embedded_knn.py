"""The embedded index's search against its own bare HNSW graph, on the same graph, queries and beam, in one run.

    .venv/bin/python bench/embedded_knn.py [--dims 384 2048] [--vectors 100000] [--queries 300] [--ef 16 32 64 128]

Data and recall as in bench/index_recall.py (clustered unit vectors, five objects an image, recall@10 of the top
images against exact search). For each beam width (ef), one thread, sequential queries:

- bare graph: `usearch.Index.search(vector, count, threads=1)` on the index's own graph, with the `count` the
  index asks for on a top-10 search (4 objects per image wanted, 44), then the keys grouped into images with a
  numpy lookup (key → image). This is the floor: the graph walk plus the least grouping any answer needs.
- index: `EmbeddedIndex.search(VectorQuery(k=10))`, the call the product's searches make: filters, grouping into
  images with their matched boxes, image sizes.

Goal: index QPS ≥ 0.8 x bare QPS at recall@10 ≥ 0.99.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from recall_data import MODEL_ID, OBJECTS_PER_IMAGE, TOP_K, add_all, exact_truth, make_dataset, recall
from rich.console import Console
from rich.table import Table

from imgsearch.index.embedded import CANDIDATES_PER_IMAGE, EmbeddedIndex
from imgsearch.index.types import ObjectKind, VectorQuery

KINDS = (ObjectKind.OBJECT, ObjectKind.IMAGE)


def bare_pass(index: EmbeddedIndex, queries: np.ndarray, image_of_key: np.ndarray) -> tuple[float, list[list[str]]]:
    ann = index._graph.ann
    assert ann is not None
    count = (TOP_K + 1) * CANDIDATES_PER_IMAGE
    found: list[list[str]] = []
    started = time.perf_counter()
    for query in queries:
        keys = ann.search(query, count, threads=1).keys
        images = image_of_key[keys.astype(np.int64)]
        _, first = np.unique(images, return_index=True)
        found.append([f"{number:064x}" for number in images[np.sort(first)][:TOP_K]])
    return len(queries) / (time.perf_counter() - started), found


def image_numbers(index: EmbeddedIndex, vector_count: int) -> np.ndarray:
    """Image number by object key: objects were added in image order, five each, keys counting from 1."""
    image_of_key = (np.arange(vector_count + 1) - 1) // OBJECTS_PER_IMAGE
    sample = np.random.default_rng(0).integers(1, vector_count + 1, 100).tolist()
    table = index._table  # checked against the index's own object table, not assumed
    slots = table.slots(np.array(sample)).tolist()
    assert all(int(table.image_ids[slot], 16) == image_of_key[key] for key, slot in zip(sample, slots, strict=True))
    return image_of_key


def index_pass(index: EmbeddedIndex, queries: np.ndarray) -> tuple[float, list[list[str]]]:
    found: list[list[str]] = []
    started = time.perf_counter()
    for query in queries:
        found.append([hit.image_id for hit in index.search(VectorQuery(query, MODEL_ID, k=TOP_K, kinds=KINDS)).hits])
    return len(queries) / (time.perf_counter() - started), found


def run_dim(dim: int, args: argparse.Namespace, console: Console) -> Table:
    data = make_dataset(dim, args.vectors, args.queries, seed=dim)
    truth = exact_truth(data.vectors, data.queries)
    table = Table(title=f"{dim}-d, {args.vectors:,} vectors ({args.vectors // OBJECTS_PER_IMAGE:,} images)")
    for column in ("ef", "bare QPS", "bare recall", "index QPS", "index recall", "index / bare"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="bench-knn-") as folder:
        index = EmbeddedIndex(Path(folder))
        index.ensure(MODEL_ID, dim)
        console.print(f"{dim}-d: adding {args.vectors // OBJECTS_PER_IMAGE:,} images")
        add_all(index, data.vectors, 500, console)
        index.close()
        for ef in args.ef:
            index = EmbeddedIndex(Path(folder), ef_search_default=ef)
            try:
                image_of_key = image_numbers(index, args.vectors)
                index_pass(index, data.queries[:50])  # warm caches and SQLite
                best_bare = best_index = 0.0
                for _ in range(args.repeats):  # alternated, the fastest of each counts
                    bare_qps, bare_found = bare_pass(index, data.queries, image_of_key)
                    index_qps, index_found = index_pass(index, data.queries)
                    best_bare, best_index = max(best_bare, bare_qps), max(best_index, index_qps)
                bare_recall, index_recall = recall(bare_found, truth, data)[0], recall(index_found, truth, data)[0]
                table.add_row(str(ef), f"{best_bare:.0f}", f"{bare_recall:.3f}", f"{best_index:.0f}",
                              f"{index_recall:.3f}", f"{best_index / best_bare:.2f}")  # fmt: skip
            finally:
                index.close()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 2048])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console(width=140)
    tables = [run_dim(dim, args, console) for dim in args.dims]
    for table in tables:
        console.print(table)
    console.print("goal: index / bare ≥ 0.8 where recall@10 ≥ 0.99")


if __name__ == "__main__":
    main()
