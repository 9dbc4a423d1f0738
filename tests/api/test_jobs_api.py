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
        if job["state"] in ("done", "failed"):
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
