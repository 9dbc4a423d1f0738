"""Recall@10 against exact search and queries/s per core, for both index back ends through the product's classes.

    .venv/bin/python bench/index_recall.py [--quick] [--dims 384 2048] [--vectors 100000] [--queries 200]
        [--backends es embedded] [--es-vectors N] [--es-oversample 2 4] [--es-mappings-dir DIR] [--repeats 2]

Data: a Gaussian mixture of unit vectors, one random unit centre per 50 vectors (2,000 for 100,000), each vector
its centre plus isotropic noise of norm ~1, renormalised: a vector's cosine to its cluster mates is ~0.5, to
anything else ~0 (the printout gives the true 1st/10th/11th/100th image cosines). Vectors are grouped into images
of 5 objects (object 0 the whole image), so 100,000 vectors are 20,000 image documents. Queries are fresh draws
from the mixture and search kinds (object, image), so every vector competes. Ground truth: the exact top 10 images
by their best object's inner product (numpy float32). Recall@10 = |returned top-10 images ∩ true top-10| / 10.

Elasticsearch: an index of its own (alias bench-recall-<dim>-<uuid>, deleted at the end) built from
es_mappings/images.json through `ElasticsearchIndex.add` (refresh=False, ~20 MB of JSON per bulk request); searched
as the ingest left it (once its background merges settle) and again after `optimize()` (one segment), each state
after warm-up passes until the rate stops rising (see `warm_up`). Timed passes follow a recall pass: one client
thread with sequential queries, then `--es-clients` threads (8) at once, whose QPS divided by the machine's cores is
the "per core" column: throughput per core with the machine kept busy ("busy cores" says how busy), and with the
client's own CPU (JSON in and out) on the same cores. One client alone overstates a core (the client runs on the
other core, and ES 9 may search segments in parallel); two clients left half a core idle, waiting on round trips,
and four about a fifth of the machine (1.6-1.8 cores busy; merged, 384-d: 293-331 per core where eight gave 354).
The query vector travels as base64 float32, as in the product. `--es-oversample` adds rows with
`rescore_vector.oversample` in the kNN section (ES 9 re-ranks the int8 candidates with the float vectors), injected
by a client wrapper. After the merged rows, "kNN floor (no boxes)" rows send the same kNN without inner hits and
without the objects' source (images only, which the product cannot show): no request that draws matched boxes can
cost less, so when the floor itself stays under a QPS goal, the machine, not the request shape, is what limits it.
Embedded: `EmbeddedIndex` in a temporary folder, reopened with `ef_search_default=ef` for each ef (how the product
configures it; a per-query num_candidates below that default cannot lower the beam); one thread = one core.
Each timed pass runs `--repeats` times and the fastest counts. Columns: miss Δcos = how far (in cosine) the
wrongly returned images trail the true 10th, on average (near ties or real misses?); q/CPU-s = queries per CPU
second, "all" = bench process + Elasticsearch, "ES" = Elasticsearch alone, both on the one-client pass; others =
the share of the machine's cores other processes kept busy during the timed passes (high values spoil QPS).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

import numpy as np
from elasticsearch import Elasticsearch
from process_cpu import CLOCK_TICKS, process_cpu_seconds
from recall_data import MODEL_ID, OBJECTS_PER_IMAGE, TOP_K, Dataset, Truth, add_all, exact_truth, make_dataset, recall
from rich.console import Console
from rich.table import Table

from imgsearch.connections import elasticsearch_client
from imgsearch.index.base import VectorIndex
from imgsearch.index.elasticsearch import ElasticsearchIndex
from imgsearch.index.types import VectorQuery
from imgsearch.settings import REPO_ROOT, Settings
from pipeline.records import ObjectKind

KINDS = (ObjectKind.OBJECT, ObjectKind.IMAGE)
DEFAULT_CANDIDATES: int = Settings.model_fields["num_candidates"].default  # both back ends get it (backends.py)
RECALL_DEFAULT_GOAL = 0.98
RECALL_HIGH = 0.99
PAPER_QPS_PER_CORE = 163  # the seed paper: 978 QPS at recall 99.9% on 6 cores
MERGED_GOAL_PER_CORE = 2 * PAPER_QPS_PER_CORE
BULK_TARGET_BYTES = 20_000_000  # well under ES's indexing-pressure limit (10% of a 1 GB heap)
MAX_WARMUP_PASSES = 15
JSON_BYTES_PER_FLOAT = 20  # float32.tolist() serialises to ~18-20 characters per component
CORES = os.cpu_count() or 1
FLOOR_LABEL = "kNN floor (no boxes)"


@dataclass(frozen=True)
class Row:
    backend: str
    setting: str
    candidates: int
    recall: float
    miss_gap: float | None  # mean cosine by which a wrongly returned image trails the true 10th
    qps_one: float
    qps_many: float | None
    busy_cores: float | None  # machine CPU seconds per second during the many-client pass
    queries_per_cpu_s: float  # bench process + Elasticsearch
    queries_per_es_cpu_s: float | None
    others_busy: float

    @property
    def per_core(self) -> float:
        return self.qps_many / CORES if self.qps_many is not None else self.qps_one


@dataclass
class Build:
    backend: str
    vectors: int
    facts: dict[str, str] = field(default_factory=dict)


class CpuSample(NamedTuple):
    wall: float
    own: float
    es: float
    machine: float


class CpuMeter:
    """CPU seconds of this process, of Elasticsearch (when it runs on this machine) and of the whole machine."""

    def __init__(self, es_pid: int | None = None) -> None:
        self.es_pid = es_pid if es_pid and Path(f"/proc/{es_pid}").exists() else None

    def sample(self) -> CpuSample:
        es = process_cpu_seconds(self.es_pid) if self.es_pid is not None else 0.0
        ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        machine = (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS  # all but idle and iowait
        return CpuSample(time.perf_counter(), time.process_time(), es, machine)


def run_pass(index: VectorIndex, queries: np.ndarray, candidates: int | None, threads: int) -> list[list[str]]:
    """Each thread sends its share of the queries one after the other; returns the image ids found."""

    def worker(rows: np.ndarray) -> list[list[str]]:
        found = []
        for row in rows:
            query = VectorQuery(row, MODEL_ID, k=TOP_K, kinds=KINDS, num_candidates=candidates)
            found.append([hit.image_id for hit in index.search(query).hits])
        return found

    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(worker, np.array_split(queries, threads)))
    return [ids for part in parts for ids in part]


def timed_pass(index: VectorIndex, data: Dataset, candidates: int | None, threads: int, meter: CpuMeter,
               repeats: int) -> CpuSample:  # fmt: skip
    """Wall and CPU seconds of the fastest of `repeats` passes (other processes can only slow a pass down)."""
    passes = []
    for _ in range(repeats):
        before = meter.sample()
        run_pass(index, data.queries, candidates, threads)
        passes.append(CpuSample(*np.subtract(meter.sample(), before)))
    return min(passes, key=lambda spent: spent.wall)


def measure(index: VectorIndex, label: tuple[str, str, int], candidates: int | None, data: Dataset, truth: Truth,
            meter: CpuMeter, args: argparse.Namespace, many_clients: bool) -> Row:  # fmt: skip
    """A warm-up pass (its answers give recall), then timed one-client and (optionally) many-client passes."""
    found = run_pass(index, data.queries, candidates, 1)
    one = timed_pass(index, data, candidates, 1, meter, args.repeats)
    many = timed_pass(index, data, candidates, args.es_clients, meter, args.repeats) if many_clients else None
    both = CpuSample(*np.add(one, many or (0.0, 0.0, 0.0, 0.0)))
    count = len(data.queries)
    return Row(
        *label, *recall(found, truth, data), count / one.wall, count / many.wall if many else None,
        many.machine / many.wall if many else None,
        count / (one.own + one.es), count / one.es if meter.es_pid and one.es > 0 else None,
        max(0.0, both.machine - both.own - both.es) / (both.wall * CORES),
    )  # fmt: skip


class OversamplingClient:
    """The real client, with `rescore_vector` added to every kNN search: ES 9 re-ranks int8 hits with floats."""

    def __init__(self, client: Elasticsearch, oversample: float) -> None:
        self._client, self._oversample = client, oversample

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def search(self, **kwargs: Any) -> Any:
        kwargs["knn"] = {**kwargs["knn"], "rescore_vector": {"oversample": self._oversample}}
        return self._client.search(**kwargs)


class KnnFloor:
    """The product's kNN request without what draws the boxes (inner hits, the objects' source): a floor.

    A search that names its images' matched objects cannot cost Elasticsearch less than this one, so its QPS per
    core is the most any request shape could reach on this machine; the gap to the product row is what inner
    hits and the source cost.
    """

    def __init__(self, index: ElasticsearchIndex) -> None:
        self._index = index

    def search(self, query: VectorQuery) -> SimpleNamespace:
        # The product's own checks and kNN section (its k, candidates and filters), only without the inner hits.
        knn = self._index.knn_section(query, self._index.check_query(query)[0])
        found = self._index.client.search(index=self._index.alias, knn=knn, size=query.k, source=False)
        return SimpleNamespace(hits=[SimpleNamespace(image_id=hit["_id"]) for hit in found["hits"]["hits"]])


def settle_merges(client: Elasticsearch, alias: str) -> None:
    """Background merges would steal the cores the searches are timed on: wait for two idle polls in a row."""
    idle = 0
    while idle < 2:
        time.sleep(1)
        merges = client.indices.stats(index=alias, metric="merge")["_all"]["primaries"]["merges"]["current"]
        idle = idle + 1 if merges == 0 else 0


def shape_facts(index: ElasticsearchIndex, prefix: str = "") -> dict[str, str]:
    size_mb = index.stats().size_bytes / 1e6
    return {f"{prefix}segments": str(index.segment_count()), f"{prefix}size MB": f"{size_mb:.0f}"}


@contextmanager
def timed(facts: dict[str, str], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    facts[name] = f"{time.perf_counter() - started:.0f}"


def warm_up(index: VectorIndex, data: Dataset, label: str, console: Console) -> None:
    """Time one-client passes until two in a row are no more than 5 % faster than the best before them.

    Elasticsearch answered the first thousand or so queries after an ingest or a merge up to twice as slowly
    (JIT, caches and heap sizing settling), so without this the first rows of each state measured the warm-up.
    """
    rates: list[float] = []
    for _ in range(MAX_WARMUP_PASSES):
        started = time.perf_counter()
        run_pass(index, data.queries, DEFAULT_CANDIDATES, 1)
        rates.append(len(data.queries) / (time.perf_counter() - started))
        if len(rates) >= 3 and all(rates[i] < 1.05 * max(rates[:i]) for i in (-1, -2)):
            break
    console.print(f"  {label} warm-up: {len(rates)} passes, QPS " + " → ".join(f"{rate:.0f}" for rate in rates))


def es_sweep(client: Elasticsearch, alias: str, state: str, args: argparse.Namespace, data: Dataset,
             truth: Truth, meter: CpuMeter, console: Console) -> list[Row]:  # fmt: skip
    plain = ElasticsearchIndex(client, alias, args.es_mappings_dir, DEFAULT_CANDIDATES, refresh=False)
    warm_up(plain, data, f"ES {state}", console)
    rows = []
    for oversample in [0.0, *args.es_oversample]:
        wrapped = cast(Elasticsearch, OversamplingClient(client, oversample)) if oversample else client
        index = ElasticsearchIndex(wrapped, alias, args.es_mappings_dir, DEFAULT_CANDIDATES, refresh=False)
        backend = f"ES {state}" + (f" +rescore x{oversample:g}" if oversample else "")
        for candidates in args.es_candidates:
            label = (backend, f"num_candidates {candidates}", candidates)
            rows.append(measure(index, label, candidates, data, truth, meter, args, many_clients=True))
    if state == "merged":
        floor = cast(VectorIndex, KnnFloor(plain))
        for candidates in args.es_candidates:
            label = (f"ES {state} {FLOOR_LABEL}", f"num_candidates {candidates}", candidates)
            rows.append(measure(floor, label, candidates, data, truth, meter, args, many_clients=True))
    return rows


def bench_es(args: argparse.Namespace, data: Dataset, truth: Truth, console: Console) -> tuple[list[Row], Build]:
    client = elasticsearch_client(Settings(es_url=args.es_url)).options(request_timeout=600)  # the product's client
    dim = data.vectors.shape[1]
    alias = f"bench-recall-{dim}-{uuid.uuid4().hex[:12]}"
    index = ElasticsearchIndex(client, alias, args.es_mappings_dir, DEFAULT_CANDIDATES, refresh=False)
    nodes = client.nodes.info(node_id="_local", metric="process")["nodes"]
    meter = CpuMeter(next(iter(nodes.values()))["process"]["id"])
    per_call = args.es_images_per_call or min(
        500, BULK_TARGET_BYTES // (OBJECTS_PER_IMAGE * dim * JSON_BYTES_PER_FLOAT)
    )
    build = Build("Elasticsearch", len(data.vectors))
    try:
        index.ensure(MODEL_ID, dim)
        console.print(f"  ES {alias}: adding {len(data.vectors) // OBJECTS_PER_IMAGE:,} images, {per_call} per add()")
        build.facts["add() s"] = f"{add_all(index, data.vectors, per_call, console):.0f}"
        with timed(build.facts, "refresh + merges settle s"):
            client.indices.refresh(index=alias)
            settle_merges(client, alias)
        build.facts |= shape_facts(index)
        console.print(f"  ES built: {build.facts}")
        rows = es_sweep(client, alias, "as ingested", args, data, truth, meter, console)
        with timed(build.facts, "optimize s"):
            index.optimize()  # what `imgsearch optimize` runs: a force-merge to one segment
        build.facts |= shape_facts(index, "merged ")
        console.print(f"  ES force-merged: {build.facts}")
        rows += es_sweep(client, alias, "merged", args, data, truth, meter, console)
    finally:
        if client.indices.exists_alias(name=alias):
            for name in client.indices.get_alias(name=alias):
                client.indices.delete(index=name)
        client.close()
    return rows, build


def bench_embedded(args: argparse.Namespace, data: Dataset, truth: Truth, console: Console) -> tuple[list[Row], Build]:
    from imgsearch.index import embedded as embedded_module  # here, so ES-only runs do not need it
    from imgsearch.index.embedded import EmbeddedIndex

    build = Build("embedded", len(data.vectors))
    floor = (TOP_K + 1) * getattr(embedded_module, "CANDIDATES_PER_IMAGE", 1)  # the beam never goes below this
    meter = CpuMeter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-recall-") as folder:
        index = EmbeddedIndex(Path(folder), ef_search_default=DEFAULT_CANDIDATES)
        index.ensure(MODEL_ID, data.vectors.shape[1])
        console.print(f"  embedded: adding {len(data.vectors) // OBJECTS_PER_IMAGE:,} images in {folder}")
        build.facts["add() s"] = f"{add_all(index, data.vectors, 500, console):.0f}"
        with timed(build.facts, "close (saves the graph) s"):
            index.close()
        for ef in args.ef:
            with timed(build.facts, "reopen s"):
                index = EmbeddedIndex(Path(folder), ef_search_default=ef)
            build.facts["size MB"] = f"{index.stats().size_bytes / 1e6:.0f}"
            label = ("embedded", f"ef {ef}" + (f" (beam {floor})" if ef < floor else ""), ef)
            try:
                rows.append(measure(index, label, None, data, truth, meter, args, many_clients=False))
            finally:
                index.close()
    return rows, build


def goals(row: Row) -> str:
    """Marks the product-default row (recall goal) and the rows past recall 0.99 (the paper's per-core QPS)."""
    if FLOOR_LABEL in row.backend:
        return "a floor, not the product: no goals"
    marks = []
    if row.candidates == DEFAULT_CANDIDATES and "rescore" not in row.backend:
        marks.append(f"default: R≥{RECALL_DEFAULT_GOAL} " + ("✓" if row.recall >= RECALL_DEFAULT_GOAL else "✗"))
    if row.recall >= RECALL_HIGH:
        marks.append(f">{PAPER_QPS_PER_CORE}/core " + ("✓" if row.per_core > PAPER_QPS_PER_CORE else "✗"))
        if row.backend == "ES merged":  # the optimised index's goal: twice the paper's rate
            marks.append(f"≥{MERGED_GOAL_PER_CORE}/core " + ("✓" if row.per_core >= MERGED_GOAL_PER_CORE else "✗"))
    return "; ".join(marks)


def results_table(title: str, rows: list[Row]) -> Table:
    table = Table(title=title)
    for heading in ("back end", "setting", "recall@10", "miss Δcos", "QPS 1 client", "QPS N clients", "busy cores",
                    "QPS per core", "q/CPU-s all", "q/CPU-s ES", "others", "goals"):  # fmt: skip
        table.add_column(heading, justify="left" if heading in ("back end", "setting", "goals") else "right")
    for row in rows:
        table.add_row(
            row.backend, row.setting, f"{row.recall:.3f}", f"{row.miss_gap:.4f}" if row.miss_gap is not None else "—",
            f"{row.qps_one:,.0f}", f"{row.qps_many:,.0f}" if row.qps_many else "—",
            f"{row.busy_cores:.2f}" if row.busy_cores is not None else "—", f"{row.per_core:,.0f}",
            f"{row.queries_per_cpu_s:,.0f}",
            f"{row.queries_per_es_cpu_s:,.0f}" if row.queries_per_es_cpu_s else "—", f"{row.others_busy:.0%}",
            goals(row),
        )  # fmt: skip
    return table


def summarise(rows: list[Row], builds: list[Build], console: Console) -> None:
    for backend in dict.fromkeys(row.backend for row in rows):
        reached = [row for row in rows if row.backend == backend and row.recall >= RECALL_HIGH]
        first = min(reached, key=lambda row: row.candidates, default=None)
        outcome = f"{first.setting} ({first.per_core:,.0f} QPS per core)" if first else "none of the settings"
        console.print(f"  {backend}: first to reach recall {RECALL_HIGH}: {outcome}")
    for build in builds:
        facts = ", ".join(f"{key} {value}" for key, value in build.facts.items())
        console.print(f"  build {build.backend} ({build.vectors:,} vectors): {facts}")


def describe(dim: int, vectors: int, truth: Truth, console: Console) -> None:
    mean = truth.image_scores.mean(axis=0)
    gap = np.mean(truth.image_scores[:, 9] - truth.image_scores[:, 10])
    console.print(
        f"  dim {dim}, {vectors:,} vectors ({vectors // OBJECTS_PER_IMAGE:,} images): mean true image cosine "
        f"1st {mean[0]:.3f}, 10th {mean[9]:.3f}, 11th {mean[10]:.3f}, 100th {mean[99]:.3f}; 10th-11th gap {gap:.4f}"
    )


def run_dim(dim: int, args: argparse.Namespace, console: Console) -> None:
    started = time.perf_counter()
    data = make_dataset(dim, args.vectors, args.queries, seed=dim)
    truth = exact_truth(data.vectors, data.queries)
    describe(dim, args.vectors, truth, console)
    rows: list[Row] = []
    builds: list[Build] = []
    note = "" if args.es_mappings_dir == REPO_ROOT / "es_mappings" else f"; ES mappings from {args.es_mappings_dir}"
    for backend in args.backends:
        if backend == "embedded":
            found = bench_embedded(args, data, truth, console)
        else:
            es_data, es_truth = data, truth
            if args.es_vectors and args.es_vectors < args.vectors:
                es_data = Dataset(data.vectors[: args.es_vectors], data.queries)
                es_truth = exact_truth(es_data.vectors, es_data.queries)
                note += f"; ELASTICSEARCH ROWS ON THE FIRST {args.es_vectors:,} VECTORS ONLY (time limit)"
                describe(dim, args.es_vectors, es_truth, console)
            found = bench_es(args, es_data, es_truth, console)
        rows, builds = rows + found[0], [*builds, found[1]]
    title = f"dim {dim}: {args.vectors:,} vectors, {args.queries} queries, k={TOP_K}, {CORES} cores{note}"
    console.print(results_table(title, rows))
    summarise(rows, builds, console)
    console.print(f"  dim {dim} wall time {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 2048])
    parser.add_argument("--vectors", type=int, default=100_000, help="a multiple of 5 (5 objects per image)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="+", choices=["es", "embedded"], default=["es", "embedded"])
    parser.add_argument("--quick", action="store_true", help="10,000 vectors, 50 queries: a smoke run")
    parser.add_argument("--es-url", default="http://127.0.0.1:9200")
    parser.add_argument("--es-vectors", type=int, help="index only the first N vectors in ES (said in the printout)")
    parser.add_argument(
        "--es-mappings-dir", type=Path, default=REPO_ROOT / "es_mappings", help="to try m, ef_construction, ..."
    )
    parser.add_argument("--es-candidates", type=int, nargs="+", default=[10, 20, 50, 100, 200, 500])
    parser.add_argument("--es-oversample", type=float, nargs="*", default=[], help="extra rows with rescore_vector")
    parser.add_argument("--es-images-per-call", type=int, help="images per add(); default ~20 MB of JSON, ≤500")
    parser.add_argument("--es-clients", type=int, default=8, help="client threads of the throughput pass")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per setting; the fastest counts")
    parser.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 100, 128, 256])
    args = parser.parse_args()
    if args.quick:
        args.vectors, args.queries = 10_000, 50
    # A kill should still delete the ES index: SIGTERM becomes SystemExit, so the finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console(width=200)
    started = time.perf_counter()
    for dim in args.dims:
        run_dim(dim, args, console)
    console.print(f"total wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
