"""A short, bounded load run against a running imgsearch API on this machine: p50/p95 of POST /api/v1/search.

    .venv/bin/python bench/search_load.py --url http://127.0.0.1:8000 [--requests 100 --concurrency 4]

It first ingests `--images` generated 640x480 scenes, then sends `--requests` searches by file (whole image and
by a detected object, alternating) from `--concurrency` client threads, and prints latency percentiles, throughput
and the status codes seen. Only loopback URLs are accepted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def ingest(client: httpx.Client, payloads: list[bytes]) -> None:
    for start in range(0, len(payloads), 8):
        files = [
            ("files", (f"bench-{start + n}.jpg", data, "image/jpeg"))
            for n, data in enumerate(payloads[start : start + 8])
        ]
        client.post("/api/v1/images", files=files).raise_for_status()


def one_search(client: httpx.Client, data: bytes, by_object: bool) -> tuple[float, int]:
    form = {"k": "12", **({"object": "0"} if by_object else {})}
    started = time.perf_counter()
    response = client.post("/api/v1/search", files={"file": ("q.jpg", data, "image/jpeg")}, data=form)
    return (time.perf_counter() - started) * 1000, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("this load run only targets a server on this machine (loopback)")

    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    payloads = generated_jpegs(args.images, seed=1)
    queries = generated_jpegs(min(args.requests, 20), seed=2)
    with httpx.Client(base_url=args.url, headers=headers, timeout=120) as client:
        ingest(client, payloads)
        one_search(client, queries[0], by_object=False)  # warm-up
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(
                pool.map(lambda n: one_search(client, queries[n % len(queries)], n % 2 == 1), range(args.requests))
            )
        elapsed = time.perf_counter() - started

    latencies = [ms for ms, status in results if status == 200]
    statuses = {status: sum(1 for _, s in results if s == status) for status in {s for _, s in results}}
    table = Table(
        title=f"POST /api/v1/search, {args.requests} requests, {args.concurrency} clients, {args.images} images"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("statuses", ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())))
    if latencies:
        table.add_row("p50 ms", f"{statistics.median(latencies):.0f}")
        table.add_row("p95 ms", f"{np.percentile(latencies, 95):.0f}")
        table.add_row("max ms", f"{max(latencies):.0f}")
    table.add_row("requests/s", f"{args.requests / elapsed:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
