"""Blobs in MinIO (any S3 API) through the `minio` SDK: one bucket for originals, one for thumbnails."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

from minio import Minio
from minio.error import S3Error

from imgsearch.errors import NotFound
from imgsearch.storage.base import BlobKind, BlobStore, blob_key

MISSING_CODES = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}


class MinioBlobStore(BlobStore):
    def __init__(self, client: Minio, buckets: dict[BlobKind, str]) -> None:
        self.client = client
        self.buckets = buckets

    def ensure(self) -> None:
        for bucket in self.buckets.values():
            if not self.client.bucket_exists(bucket):
                try:
                    self.client.make_bucket(bucket)
                except S3Error as error:
                    # Another process created it between our check and our call.
                    if error.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

    def put(self, kind: BlobKind, image_id: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            self.buckets[kind], blob_key(image_id), io.BytesIO(data), len(data), content_type=content_type
        )

    def get(self, kind: BlobKind, image_id: str) -> bytes:
        try:
            response = self.client.get_object(self.buckets[kind], blob_key(image_id))
        except S3Error as error:
            if error.code in MISSING_CODES:
                raise NotFound(f"no {kind.value} stored for image {image_id}") from None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def delete(self, kind: BlobKind, image_id: str) -> None:
        # S3 deletes are idempotent: removing a missing key succeeds.
        self.client.remove_object(self.buckets[kind], blob_key(image_id))

    def exists(self, kind: BlobKind, image_id: str) -> bool:
        try:
            self.client.stat_object(self.buckets[kind], blob_key(image_id))
        except S3Error as error:
            if error.code in MISSING_CODES:
                return False
            raise
        return True

    def list_ids(self, kind: BlobKind) -> Iterator[tuple[str, datetime]]:
        for item in self.client.list_objects(self.buckets[kind], recursive=True):
            if item.object_name is None:
                continue
            modified = item.last_modified or datetime.now(UTC)
            yield item.object_name.rsplit("/", 1)[-1], modified
