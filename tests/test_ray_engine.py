"""`imgsearch index --engine ray` on a local Ray and on a two-node Ray cluster on this machine: the same documents
as the local engine, a killed model actor or driver costing nothing but time, and clear lines when it cannot run.

Ray binds to the machine's interface address whatever it is asked, so these tests run in the loopback-only
network namespace `scripts/test` makes (and fail, naming it, anywhere else).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from elasticsearch import Elasticsearch
from minio import Minio

from imgsearch.job_store import ElasticsearchJobStore
from imgsearch.jobs import JobState
from imgsearch.maintenance import drop_buckets, drop_es_alias
from imgsearch.settings import REPO_ROOT, Settings
from tests.fixtures import jpeg_bytes, scene

pytestmark = pytest.mark.integration

IMAGES = 96  # enough that a model actor killed once images are stored still had work
ANALYZER_TITLE = b"ray::MapWorker(MapBatches(ImageAnalyzer))"


@pytest.fixture(scope="module", autouse=True)
def loopback_only() -> None:
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        pytest.fail(
            f"the Ray tests need a network namespace with only loopback (found {interfaces}): run them through "
            "scripts/test (e.g. `scripts/test tests/test_ray_engine.py`), which makes one"
        )


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated scenes, one of them twice, plus a file that is no image and one that is a broken JPEG."""
    folder = tmp_path_factory.mktemp("ray-photos")
    for n in range(IMAGES):
        (folder / f"{n:03d}.jpg").write_bytes(jpeg_bytes(scene(seed=1300 + n)))
    (folder / "copy-of-000.jpg").write_bytes((folder / "000.jpg").read_bytes())
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(jpeg_bytes(scene(seed=1299))[:400])
    return folder


class Runs:
    """Throw-away aliases and buckets on the test servers, one per run, dropped at the end."""

    def __init__(self, server: Settings, es: Elasticsearch, minio: Minio) -> None:
        self.server, self.es, self.minio = server, es, minio
        self.made: list[str] = []

    def environment(self, **extra: str) -> dict[str, str]:
        run = f"test-ray-{uuid.uuid4().hex[:10]}"
        self.made.append(run)
        env = {key: value for key, value in os.environ.items() if not key.startswith("IMGSEARCH_")}
        # One torch thread in this process and in each actor: the same arithmetic, so the same vectors.
        servers = {"IMGSEARCH_ES_URL": str(self.server.es_url), "IMGSEARCH_S3_ENDPOINT": str(self.server.s3_endpoint)}
        return env | servers | {"IMGSEARCH_MODELS": "starter", "IMGSEARCH_TORCH_THREADS": "1",
                      "IMGSEARCH_ES_INDEX_ALIAS": run, "IMGSEARCH_S3_BUCKET_ORIGINALS": f"{run}-o",
                      "IMGSEARCH_S3_BUCKET_THUMBNAILS": f"{run}-t"} | extra  # fmt: skip

    def drop(self) -> None:
        for run in self.made:
            drop_es_alias(self.es, run)
            drop_buckets(self.minio, [f"{run}-o", f"{run}-t"])


@pytest.fixture(scope="module")
def runs(server_settings: Settings, es: Elasticsearch, minio: Minio) -> Iterator[Runs]:
    made = Runs(server_settings, es, minio)
    yield made
    made.drop()


def index_command(photos: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "index", str(photos), "--json", *extra]


def run_index(env: dict[str, str], command: list[str]) -> dict[str, Any]:
    finished = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, timeout=600)
    assert finished.stdout, finished.stderr.decode()[-3000:]
    return json.loads(finished.stdout)


def documents(es: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    """Every document with its vectors, by image id."""
    es.indices.refresh(index=alias)
    found = es.search(index=alias, size=1000, source={"exclude_vectors": False}, sort=["_doc"])
    return {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}


def assert_same_documents(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> None:
    assert sorted(ours) == sorted(theirs)
    for image_id, document in ours.items():
        other = theirs[image_id]
        assert [o["label"] for o in document["objects"]] == [o["label"] for o in other["objects"]], image_id
        assert [o["kind"] for o in document["objects"]] == [o["kind"] for o in other["objects"]]
        boxes = np.array([[o["bbox"][c] for c in ("x1", "y1", "x2", "y2")] for o in document["objects"]])
        other_boxes = np.array([[o["bbox"][c] for c in ("x1", "y1", "x2", "y2")] for o in other["objects"]])
        np.testing.assert_allclose(boxes, other_boxes, atol=1e-4)
        vectors = np.array([o["vector"] for o in document["objects"]], dtype=np.float32)
        other_vectors = np.array([o["vector"] for o in other["objects"]], dtype=np.float32)
        np.testing.assert_allclose(vectors, other_vectors, atol=1e-5)
        assert (document["source"], document["model_id"]) == (other["source"], other["model_id"])


@pytest.fixture(scope="module")
def local_run(runs: Runs, photos: Path, es: Elasticsearch) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    env = runs.environment()
    summary = run_index(env, index_command(photos))
    return summary, documents(es, env["IMGSEARCH_ES_INDEX_ALIAS"])


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[str]:
    """Ray's own two-node test cluster on this machine (a head and a worker node, one CPU each)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster.address
    finally:
        cluster.shutdown()


def job_of(es: Elasticsearch, env: dict[str, str], job_id: str) -> Any:
    store = ElasticsearchJobStore(es, env["IMGSEARCH_ES_INDEX_ALIAS"])
    return store.get(job_id)


def test_the_ray_engine_stores_what_the_local_engine_stores(
    runs: Runs, photos: Path, es: Elasticsearch, local_run: tuple[dict[str, Any], dict[str, dict[str, Any]]]
) -> None:
    local_summary, local_documents = local_run
    env = runs.environment()
    summary = run_index(env, index_command(photos, "--engine", "ray"))
    counts = ("sources", "done", "added", "duplicates", "failed", "objects", "not_images")
    assert {key: summary[key] for key in counts} == {key: local_summary[key] for key in counts}
    assert (summary["added"], summary["duplicates"], summary["failed"], summary["not_images"]) == (IMAGES, 1, 1, 1)
    assert [(e["source"], e["code"]) for e in summary["errors"]] == [
        (e["source"], e["code"]) for e in local_summary["errors"]
    ]
    assert_same_documents(documents(es, env["IMGSEARCH_ES_INDEX_ALIAS"]), local_documents)
    job = job_of(es, env, summary["job"])  # the durable record the API's GET /jobs/{id} reads
    assert (job.state, job.done, job.added, job.spec["engine"]) == (JobState.FAILED, IMAGES + 2, IMAGES, "ray")


def analyzer_pids() -> list[int]:
    """The Ray worker processes running a model actor (Ray titles them after the actor)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(ANALYZER_TITLE):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_for(condition: Any, what: str, process: subprocess.Popen[bytes], timeout_s: float = 240) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stored_count(es: Elasticsearch, alias: str) -> int:
    if not es.indices.exists_alias(name=alias):
        return 0
    es.indices.refresh(index=alias)
    return int(es.count(index=alias)["count"])


def started_on_two_nodes(
    runs: Runs, photos: Path, two_nodes: str
) -> tuple[dict[str, str], str, subprocess.Popen[bytes]]:
    """`imgsearch index --engine ray` on the two-node cluster, running: its environment, alias and process."""
    env = runs.environment()
    command = index_command(photos, "--engine", "ray", "--ray-address", two_nodes)
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return env, env["IMGSEARCH_ES_INDEX_ALIAS"], process


def test_on_two_nodes_a_killed_model_actor_is_replaced_and_nothing_is_stored_twice(
    runs: Runs,
    photos: Path,
    es: Elasticsearch,
    two_nodes: str,
    local_run: tuple[dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    _, alias, process = started_on_two_nodes(runs, photos, two_nodes)
    actors = wait_for(lambda: len(analyzer_pids()) == 2 and analyzer_pids(), "two model actors", process)
    wait_for(lambda: stored_count(es, alias) > 0, "the first stored images", process)
    os.kill(actors[0], signal.SIGKILL)
    assert stored_count(es, alias) < IMAGES  # killed mid-run
    stdout, stderr = process.communicate(timeout=600)
    assert stdout, stderr.decode()[-3000:]
    summary = json.loads(stdout)
    assert (summary["done"], summary["failed"]) == (IMAGES + 2, 1)  # every source answered; the broken JPEG failed
    assert summary["added"] + summary["duplicates"] == IMAGES + 1
    assert_same_documents(documents(es, alias), local_run[1])  # each image once, as the local engine stores it


def test_on_two_nodes_a_killed_driver_resumes_where_its_job_stopped(
    runs: Runs,
    photos: Path,
    es: Elasticsearch,
    two_nodes: str,
    local_run: tuple[dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    env, alias, process = started_on_two_nodes(runs, photos, two_nodes)
    store = ElasticsearchJobStore(es, alias)

    def running_job() -> Any:
        newest = store.newest(1) if es.indices.exists_alias(name=alias) else []
        return newest[0] if newest and newest[0].state is JobState.RUNNING and newest[0].done >= 8 else None

    job = wait_for(running_job, "recorded progress", process)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    resumed = run_index(env, [sys.executable, "-m", "cli.main", "index", "--resume", job.id, "--json",
                              "--ray-address", two_nodes])  # fmt: skip
    assert (resumed["job"], resumed["done"], resumed["failed"]) == (job.id, IMAGES + 2, 1)
    assert job_of(es, env, job.id).spec["engine"] == "ray"  # resumed on the engine it started on
    assert_same_documents(documents(es, alias), local_run[1])


def test_an_unreachable_cluster_is_one_line_and_exit_1(runs: Runs, photos: Path) -> None:
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    command = index_command(photos, "--engine", "ray", "--ray-address", f"127.0.0.1:{port}")
    finished = subprocess.run(command, env=runs.environment(), cwd=REPO_ROOT, capture_output=True, timeout=300)
    assert finished.returncode == 1
    lines = finished.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"imgsearch: no Ray cluster at 127.0.0.1:{port}"), lines


def test_the_ray_engine_on_the_embedded_index_says_what_it_needs(photos: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMGSEARCH_")}
    env |= {"IMGSEARCH_MODELS": "starter", "IMGSEARCH_DATA_DIR": str(tmp_path)}
    command = index_command(photos, "--engine", "ray")
    finished = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, timeout=300)
    assert finished.returncode == 1
    lines = finished.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "needs Elasticsearch (IMGSEARCH_ES_URL)" in lines[0], lines
