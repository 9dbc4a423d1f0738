"""MinIO is real: put, get, stat and delete an object through the `minio` SDK."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from minio import Minio
from minio.error import S3Error

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(minio: Minio, run_id: str) -> Iterator[str]:
    name = f"test-floor-{run_id}"
    minio.make_bucket(name)
    yield name
    for leftover in minio.list_objects(name, recursive=True):
        minio.remove_object(name, leftover.object_name)
    minio.remove_bucket(name)


def test_put_get_delete_round_trip(minio: Minio, bucket: str) -> None:
    payload = bytes(range(256)) * 1024
    minio.put_object(
        bucket, "originals/ab/abc.bin", io.BytesIO(payload), len(payload), content_type="application/octet-stream"
    )

    response = minio.get_object(bucket, "originals/ab/abc.bin")
    try:
        assert response.read() == payload
    finally:
        response.close()
        response.release_conn()
    assert minio.stat_object(bucket, "originals/ab/abc.bin").size == len(payload)

    minio.remove_object(bucket, "originals/ab/abc.bin")
    with pytest.raises(S3Error) as missing:
        minio.stat_object(bucket, "originals/ab/abc.bin")
    assert missing.value.code == "NoSuchKey"
