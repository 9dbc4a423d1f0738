"""Outages and hostile inputs against the real Elasticsearch + MinIO on this machine: what a client sees, what is lost.

    scripts/services up && .venv/bin/python bench/fault_probe.py [--batches 40] [--kill]

For each scenario the API is served by uvicorn as `imgsearch serve` runs it (starter models), on a fresh index
and buckets, with Elasticsearch and MinIO behind fault proxies (`imgsearch/devservices/fault_proxy.py`). A client
ingests two new images per batch and makes one read per batch (search by file, browse, record, original in
turn); the fault is in force from batch `batches // 4` to `3 * batches // 4`, and every ingest batch that failed
is sent once more after it, as a careful client would. Then every image the API acknowledged is checked (record,
original and thumbnail), `reconcile` runs with no grace period, and the check runs again. With `--kill` two
more scenarios really kill (SIGKILL) Elasticsearch and MinIO mid-run and restart them with the dev services.
Finally the hostile-input table of `tests/api/test_hostile_inputs.py` is sent to both back ends.
Only loopback addresses are used; every loop is bounded.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table
from scenes import generated_jpegs

from api.main import create_app
from api.serve import server_limits
from imgsearch.backends import build_blob_store, build_index
from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.devservices.__main__ import build_services
from imgsearch.devservices.fault_proxy import FaultProxy
from imgsearch.devservices.layout import Layout, default_home
from imgsearch.maintenance import drop_buckets, drop_es_alias, reconcile
from imgsearch.settings import Settings
from imgsearch.storage.base import BlobKind

READS = ("search", "browse", "record", "original")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Proxies:
    elasticsearch: FaultProxy
    minio: FaultProxy


@dataclass
class Scenario:
    name: str
    start: Callable[[Proxies], None]
    end: Callable[[Proxies], None]


@dataclass
class Outcome:
    statuses: Counter[str] = field(default_factory=Counter)
    slowest_503_s: float = 0.0
    acknowledged: set[str] = field(default_factory=set)
    orphans_after_fault: int = 0  # blobs without a document once the fault ended, before the client's retries

    def count(self, response: httpx.Response, took_s: float) -> None:
        self.statuses[str(response.status_code)] += 1
        if response.status_code == 503:
            self.slowest_503_s = max(self.slowest_503_s, took_s)


def _kill(pid: int | None) -> None:
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def scenarios(kill: bool) -> list[Scenario]:
    listed = [
        Scenario("Elasticsearch refuses connections", lambda p: p.elasticsearch.refuse(), _forward),
        Scenario("Elasticsearch loses bulk answers", lambda p: p.elasticsearch.drop_responses("_bulk"), _forward),
        Scenario(
            "Elasticsearch loses a bulk answer, then is gone",
            lambda p: p.elasticsearch.drop_responses("_bulk", then_refuse=True),
            _forward,
        ),
        Scenario("bulk requests never reach Elasticsearch", lambda p: p.elasticsearch.drop_requests("_bulk"), _forward),
        Scenario("MinIO refuses connections", lambda p: p.minio.refuse(), _forward),
    ]
    if kill:
        es, minio = build_services(Settings(), Layout(default_home()))
        listed += [
            Scenario("Elasticsearch killed (SIGKILL), restarted", lambda _: _kill(es.pid()), lambda _: es.start()),
            Scenario("MinIO killed (SIGKILL), restarted", lambda _: _kill(minio.pid()), lambda _: minio.start()),
        ]
    return listed


def _forward(proxies: Proxies) -> None:
    proxies.elasticsearch.forward()
    proxies.minio.forward()


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_config=None, **server_limits(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _ids(response: httpx.Response) -> set[str]:
    if response.status_code not in (200, 201):
        return set()
    return {image["id"] for image in response.json()["images"]}


def drive(
    url: str, payloads: list[bytes], scenario: Scenario, proxies: Proxies, batches: int, direct: Settings
) -> Outcome:
    outcome = Outcome()
    failed_batches: list[list[bytes]] = []
    with httpx.Client(base_url=url, timeout=120) as client:

        def timed(method: str, path: str, **request: object) -> httpx.Response:
            started = time.monotonic()
            response = client.request(method, path, **request)  # type: ignore[arg-type]
            outcome.count(response, time.monotonic() - started)
            return response

        def ingest(batch: list[bytes]) -> bool:
            files = [("files", (f"probe-{n}.jpg", data, "image/jpeg")) for n, data in enumerate(batch)]
            response = timed("POST", "/api/v1/images", files=files)
            outcome.acknowledged |= _ids(response)
            return response.status_code in (200, 201)

        known = next(iter(outcome.acknowledged), None)
        for number in range(batches):
            if number == batches // 4:
                scenario.start(proxies)
            if number == 3 * batches // 4:
                scenario.end(proxies)
            batch = payloads[2 * number : 2 * number + 2]
            if not ingest(batch):
                failed_batches.append(batch)
            known = known or next(iter(outcome.acknowledged), None)
            read = READS[number % len(READS)]
            if read == "search":
                timed("POST", "/api/v1/search", files={"file": ("q.jpg", batch[0], "image/jpeg")}, data={"k": "3"})
            elif read == "browse":
                timed("GET", "/api/v1/images", params={"limit": 5})
            elif known is not None:
                timed("GET", f"/api/v1/images/{known}" + ("/content" if read == "original" else ""))
        outcome.orphans_after_fault = orphan_blobs(direct)
        for batch in failed_batches:
            ingest(batch)
    return outcome


def lost(url: str, image_ids: set[str]) -> int:
    """Acknowledged images whose record, original or thumbnail cannot be had."""
    missing = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for image_id in image_ids:
            paths = (
                f"/api/v1/images/{image_id}",
                f"/api/v1/images/{image_id}/content",
                f"/api/v1/images/{image_id}/thumbnail",
            )
            missing += any(client.get(path).status_code != 200 for path in paths)
    return missing


def orphan_blobs(settings: Settings) -> int:
    index, blobs = build_index(settings), build_blob_store(settings)
    try:
        return sum(1 for kind in BlobKind for image_id, _ in blobs.list_ids(kind) if index.get(image_id) is None)
    finally:
        index.close()


def run_scenario(base: Settings, scenario: Scenario, batches: int, seed: int) -> list[str]:
    run = f"probe-{uuid.uuid4().hex[:8]}"
    direct = base.model_copy(
        update={"es_index_alias": run, "s3_bucket_originals": f"{run}-orig", "s3_bucket_thumbnails": f"{run}-thumb"}
    )
    es_url = urlsplit(str(base.es_url))
    minio_host, minio_port = str(base.s3_endpoint).rsplit(":", 1)
    payloads = generated_jpegs(2 * batches, seed=seed)
    with (
        FaultProxy(es_url.hostname or "127.0.0.1", es_url.port or 9200) as es_proxy,
        FaultProxy(minio_host, int(minio_port)) as minio_proxy,
    ):
        proxied = direct.model_copy(
            update={"es_url": Settings(es_url=es_proxy.url).es_url, "s3_endpoint": minio_proxy.address}
        )
        try:
            with served(proxied) as url:
                outcome = drive(url, payloads, scenario, Proxies(es_proxy, minio_proxy), batches, direct)
                lost_before = lost(url, outcome.acknowledged)
                orphans_before = orphan_blobs(direct)
                index, blobs = build_index(direct), build_blob_store(direct)
                try:
                    report = reconcile(index, blobs, grace=timedelta(0))
                finally:
                    index.close()
                lost_after = lost(url, outcome.acknowledged)
                orphans_after = orphan_blobs(direct)
        finally:
            es = elasticsearch_client(direct)
            drop_es_alias(es, run)
            es.close()
            drop_buckets(minio_client(direct), [direct.s3_bucket_originals, direct.s3_bucket_thumbnails])
    statuses = outcome.statuses
    others = sum(n for status, n in statuses.items() if status not in {"200", "201", "503", "500"})
    return [
        scenario.name,
        str(sum(statuses.values())),
        str(statuses["200"] + statuses["201"]),
        str(statuses["503"]),
        str(statuses["500"]),
        str(others),
        f"{outcome.slowest_503_s:.2f}",
        str(len(outcome.acknowledged)),
        f"{lost_before} → {lost_after}",
        str(outcome.orphans_after_fault),
        f"{orphans_before} → {orphans_after} ({len(report.orphan_blobs_removed)} removed)",
    ]


def hostile_table(base: Settings) -> list[list[str]]:
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(REPO_ROOT))  # the table lives with the tests, which are not an installed package
    from tests.api.test_hostile_inputs import TABLE

    rows = []
    with tempfile.TemporaryDirectory(prefix="imgsearch-probe-") as folder:
        run = f"probe-{uuid.uuid4().hex[:8]}"
        backends = {
            "Elasticsearch + MinIO": base.model_copy(
                update={"es_index_alias": run, "s3_bucket_originals": f"{run}-o", "s3_bucket_thumbnails": f"{run}-t"}
            ),
            "embedded": base.model_copy(update={"es_url": None, "s3_endpoint": None, "data_dir": Path(folder)}),
        }
        for name, settings in backends.items():
            statuses: Counter[str] = Counter()
            json_bodies = 0
            with TestClient(create_app(settings)) as client:
                for case in TABLE:
                    response = client.request(case.method, case.path, **case.request)
                    statuses[str(response.status_code)] += 1
                    json_bodies += response.headers.get("content-type", "").startswith("application/json")
            rows.append(
                [name, str(len(TABLE)), ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())), str(json_bodies)]
            )
        es = elasticsearch_client(backends["Elasticsearch + MinIO"])
        drop_es_alias(es, run)
        es.close()
        drop_buckets(minio_client(base), [f"{run}-o", f"{run}-t"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="ingest batches of two images per scenario")
    parser.add_argument("--kill", action="store_true", help="also SIGKILL and restart the real servers")
    args = parser.parse_args()
    base = Settings(models="starter")
    if not (base.uses_elasticsearch and base.uses_s3):
        print("fault_probe: set IMGSEARCH_ES_URL and IMGSEARCH_S3_ENDPOINT (scripts/services up)", file=sys.stderr)
        return 2
    # The ingest's "blobs kept for reconcile" warnings are the expected consequence of the faults here.
    logging.getLogger("imgsearch").setLevel(logging.ERROR)
    console = Console(width=220)
    outages = Table(title=f"Outages: {args.batches} batches of 2 new images + 1 read each; fault in the middle half")
    for column in ("scenario", "requests", "2xx", "503", "500", "other", "slowest 503 s", "acknowledged",
                   "lost before → after reconcile", "orphan blobs before retries",
                   "orphan blobs before → after reconcile"):  # fmt: skip
        outages.add_column(column)
    for number, scenario in enumerate(scenarios(args.kill)):
        outages.add_row(*run_scenario(base, scenario, args.batches, seed=1000 + number))
    console.print(outages)
    hostile = Table(title="Hostile inputs: the table of tests/api/test_hostile_inputs.py")
    for column in ("back end", "requests", "statuses", "JSON error bodies"):
        hostile.add_column(column)
    for row in hostile_table(base):
        hostile.add_row(*row)
    console.print(hostile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
