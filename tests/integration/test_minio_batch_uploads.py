"""A batch's blobs in one request MinIO extracts: every blob stored with its bytes and content type, nothing else
left in the bucket, and a server that does not extract noticed on the first batch and written to one by one."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from minio import Minio
from minio.error import S3Error

from imgsearch.storage.base import Blob, BlobKind, blob_key
from imgsearch.storage.minio_store import EXTRACT_HEADER, EXTRACTED_MAX_BYTES, MinioBlobStore


def blobs(count: int, size: int = 20_000) -> list[Blob]:
    types = ["image/jpeg", "image/png", "image/webp"]
    return [Blob(f"{n:02x}" + os.urandom(31).hex(), os.urandom(size + n), types[n % 3]) for n in range(count)]


@pytest.fixture
def store(minio: Minio, run_id: str) -> Iterator[MinioBlobStore]:
    buckets = {BlobKind.ORIGINAL: f"test-batch-o-{run_id}", BlobKind.THUMBNAIL: f"test-batch-t-{run_id}"}
    created = MinioBlobStore(minio, buckets)
    created.ensure()
    yield created
    for bucket in buckets.values():
        for leftover in minio.list_objects(bucket, recursive=True):
            minio.remove_object(bucket, leftover.object_name)
        minio.remove_bucket(bucket)


@pytest.mark.integration
def test_small_blobs_go_up_together_and_each_is_stored_with_its_type(minio: Minio, store: MinioBlobStore) -> None:
    batch = [*blobs(5), Blob("ff" + "0" * 62, os.urandom(EXTRACTED_MAX_BYTES + 1), "image/jpeg")]
    store.put_many(BlobKind.ORIGINAL, batch)
    assert store._extracts is True  # MinIO extracted the first tar
    store.put_many(BlobKind.ORIGINAL, blobs(3, size=9_000))
    bucket = store.buckets[BlobKind.ORIGINAL]
    for blob in batch:
        assert store.get(BlobKind.ORIGINAL, blob.image_id) == blob.data
        assert minio.stat_object(bucket, blob_key(blob.image_id)).content_type == blob.content_type
    stored = sorted(item.object_name or "" for item in minio.list_objects(bucket, recursive=True))
    assert len(stored) == 9 and all(name.split("/")[-1].isalnum() for name in stored)  # no tar left behind


@pytest.mark.integration
def test_with_batch_uploads_off_each_blob_is_its_own_request(minio: Minio, store: MinioBlobStore) -> None:
    plain = MinioBlobStore(minio, store.buckets, batch_uploads=False)
    batch = blobs(4)
    plain.put_many(BlobKind.THUMBNAIL, batch)
    assert plain._extracts is False
    assert [plain.get(BlobKind.THUMBNAIL, blob.image_id) for blob in batch] == [blob.data for blob in batch]


class NonExtractingS3:
    """An S3 server that ignores the extract header: it keeps the tar as an object, or (`stores_tars` False)
    answers 200 and keeps nothing, as some S3 look-alikes do, or (`refuses`) answers NotImplemented."""

    def __init__(self, stores_tars: bool, refuses: bool = False) -> None:
        self.stores_tars = stores_tars
        self.refuses = refuses
        self.objects: dict[tuple[str, str], bytes] = {}
        self.tar_uploads = 0

    def put_object(self, bucket: str, name: str, data: io.BytesIO, length: int, **options: Any) -> None:
        extract = EXTRACT_HEADER in (options.get("metadata") or {})
        self.tar_uploads += extract
        if extract and self.refuses:
            raise S3Error(None, "NotImplemented", "not here", name, "req", "host")  # type: ignore[arg-type]
        if self.stores_tars or not extract:
            self.objects[bucket, name] = data.read(length)

    def stat_object(self, bucket: str, name: str) -> object:
        if (bucket, name) not in self.objects:
            raise S3Error(None, "NoSuchKey", "missing", name, "req", "host")  # type: ignore[arg-type]
        return object()

    def remove_object(self, bucket: str, name: str) -> None:
        self.objects.pop((bucket, name), None)


@pytest.mark.parametrize(("stores_tars", "refuses"), [(True, False), (False, False), (False, True)])
def test_a_server_that_does_not_extract_gets_every_blob_one_by_one(stores_tars: bool, refuses: bool) -> None:
    server = NonExtractingS3(stores_tars, refuses)
    store = MinioBlobStore(server, {BlobKind.ORIGINAL: "originals", BlobKind.THUMBNAIL: "thumbs"})  # type: ignore[arg-type]
    first, second = blobs(4), blobs(3)
    store.put_many(BlobKind.ORIGINAL, first)
    store.put_many(BlobKind.ORIGINAL, second)
    assert server.tar_uploads == 1  # tried once, then never again
    expected = {("originals", blob_key(blob.image_id)): blob.data for blob in first + second}
    assert server.objects == expected  # every blob, and the tar removed
