"""Bucket sync jobs: every image under a prefix is ingested; a second run finds them all as duplicates."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from minio import Minio

from imgsearch.maintenance import drop_buckets
from tests.api.helpers import assert_error, upload
from tests.fixtures import jpeg_bytes, scene

pytestmark = pytest.mark.integration


@pytest.fixture
def photo_bucket(minio: Minio) -> Iterator[str]:
    bucket = f"test-sync-{uuid.uuid4().hex[:12]}"
    minio.make_bucket(bucket)
    for name, data in [
        ("holiday/a.jpg", jpeg_bytes(scene(seed=501))),
        ("holiday/b.JPG", jpeg_bytes(scene(seed=502))),
        ("holiday/nested/c.jpeg", jpeg_bytes(scene(seed=503))),
        ("holiday/notes.txt", b"not an image"),
        ("holiday/broken.jpg", b"\xff\xd8\xff broken"),
        ("elsewhere/d.jpg", jpeg_bytes(scene(seed=504))),
    ]:
        minio.put_object(bucket, name, io.BytesIO(data), len(data))
    yield bucket
    drop_buckets(minio, [bucket])


def wait_for(client: TestClient, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_sync_ingests_a_prefix_and_is_idempotent(client: TestClient, photo_bucket: str) -> None:
    started = client.post("/api/v1/jobs/sync", json={"bucket": photo_bucket, "prefix": "holiday/"})
    assert started.status_code == 202, started.text
    job = wait_for(client, started.json()["id"])
    assert (job["state"], job["total"], job["done"], job["failed"], job["duplicates"]) == ("done", 4, 4, 1, 0)
    assert job["optimized"] is None  # 3 images, far below the default threshold
    assert job["errors"][0]["source"] == f"s3://{photo_bucket}/holiday/broken.jpg"
    assert client.get("/api/v1/stats").json()["images"] == 3

    again = wait_for(
        client, client.post("/api/v1/jobs/sync", json={"bucket": photo_bucket, "prefix": "holiday/"}).json()["id"]
    )
    assert (again["done"], again["duplicates"], again["failed"]) == (4, 3, 1)
    assert client.get("/api/v1/stats").json()["images"] == 3


def test_sync_errors(client: TestClient) -> None:
    assert_error(client.post("/api/v1/jobs/sync", json={"bucket": "no-such-bucket-here"}), 404, "not_found")
    assert_error(client.post("/api/v1/jobs/sync", json={}), 422, "invalid_request")
    assert_error(client.post("/api/v1/jobs/sync", json={"folder": "/etc"}), 422, "invalid_request")
    assert_error(client.get(f"/api/v1/jobs/{'0' * 32}"), 404, "not_found")


def test_a_large_enough_sync_optimises_the_index_after_it(api_factory, photo_bucket: str, es) -> None:
    with api_factory(optimize_after_import=3) as client:
        assert upload(client, jpeg_bytes(scene(seed=505))).status_code == 201  # a segment of its own
        small = wait_for(
            client, client.post("/api/v1/jobs/sync", json={"bucket": photo_bucket, "prefix": "elsewhere/"}).json()["id"]
        )
        assert (small["state"], small["optimized"]) == ("done", None)  # one image added: below the threshold
        job = wait_for(
            client, client.post("/api/v1/jobs/sync", json={"bucket": photo_bucket, "prefix": "holiday/"}).json()["id"]
        )
        assert job["state"] == "done" and "merged into 1" in job["optimized"]
        alias = client.app.state.services.settings.es_index_alias
        segments = es.indices.stats(index=alias, metric="segments")["_all"]["primaries"]["segments"]["count"]
        assert segments == 1
        assert client.get("/api/v1/stats").json()["images"] == 5


def test_jobs_survive_a_restart_and_an_interrupted_one_resumes(api_factory, photo_bucket: str) -> None:
    """A job left running by a process that died reads as interrupted after a restart; resuming it ingests only
    what it had not recorded, and cancel or a second resume are refused once it is finished."""
    from datetime import UTC, datetime, timedelta

    from imgsearch.jobs import Job, JobState

    with api_factory() as client:
        body = {"bucket": photo_bucket, "prefix": "elsewhere/"}
        finished = wait_for(client, client.post("/api/v1/jobs/sync", json=body).json()["id"])
        alias = client.app.state.services.settings.es_index_alias
        store = client.app.state.services.core.jobs.store
        # What a crash two images into a four-image sync leaves: a running record nobody saves any more.
        crashed = Job(uuid.uuid4().hex, f"sync s3://{photo_bucket}/holiday/", spec={"bucket": photo_bucket,
                      "prefix": "holiday/"}, state=JobState.RUNNING, total=4, done=2,
                      updated_at=datetime.now(UTC) - timedelta(minutes=5))  # fmt: skip
        store.save(crashed)
    with api_factory(es_index_alias=alias) as restarted:
        listed = {job["id"]: job for job in restarted.get("/api/v1/jobs").json()}
        assert listed[finished["id"]]["state"] == "done"
        assert listed[crashed.id]["state"] == "interrupted"
        assert_error(restarted.post(f"/api/v1/jobs/{finished['id']}/resume"), 409, "job_not_resumable")
        resumed = restarted.post(f"/api/v1/jobs/{crashed.id}/resume")
        assert resumed.status_code == 202, resumed.text
        job = wait_for(restarted, crashed.id)
        # The listing is sorted: a.jpg, b.JPG (the two recorded) are skipped; broken.jpg and nested/c.jpeg run.
        assert (job["state"], job["done"], job["failed"], job["total"]) == ("done", 4, 1, 4)
        assert restarted.get("/api/v1/stats").json()["images"] == 2  # elsewhere/d.jpg and holiday/nested/c.jpeg
        assert_error(restarted.post(f"/api/v1/jobs/{crashed.id}/cancel"), 409, "job_not_resumable")
        # A command-line run lists what it reads from its own arguments: the API names the command instead.
        reindex = Job(uuid.uuid4().hex, "reindex", spec={"source": "a", "target": "b"}, state=JobState.RUNNING,
                      updated_at=datetime.now(UTC) - timedelta(minutes=5))  # fmt: skip
        restarted.app.state.services.core.jobs.store.save(reindex)
        refused = restarted.post(f"/api/v1/jobs/{reindex.id}/resume")
        assert_error(refused, 409, "job_not_resumable")
        assert f"`imgsearch reindex --resume {reindex.id}`" in refused.json()["error"]["message"]


def test_a_running_sync_can_be_cancelled(client: TestClient, minio: Minio) -> None:
    bucket = f"test-cancel-{uuid.uuid4().hex[:12]}"
    minio.make_bucket(bucket)
    try:
        for number in range(40):
            data = jpeg_bytes(scene(seed=600 + number))
            minio.put_object(bucket, f"p/{number:03d}.jpg", io.BytesIO(data), len(data))
        started = client.post("/api/v1/jobs/sync", json={"bucket": bucket, "prefix": "p/"}).json()
        cancelled = client.post(f"/api/v1/jobs/{started['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        deadline = time.monotonic() + 60
        while (job := client.get(f"/api/v1/jobs/{started['id']}").json())["state"] not in ("cancelled", "done"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["state"] == "cancelled" and job["done"] < 40
    finally:
        drop_buckets(minio, [bucket])
