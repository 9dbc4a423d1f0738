"""Blobs in MinIO (any S3 API) through the `minio` SDK: one bucket for originals, one for thumbnails."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError

from imgsearch.errors import BackendUnavailable, NotFound, outages_raised, outages_translated
from imgsearch.storage.base import BlobKind, BlobStore, blob_key

MINIO = "MinIO"
MISSING_CODES = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}
# S3 errors that say "not now" rather than "not so": a server starting, throttling or short of quorum.
UNAVAILABLE_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "XMinioServerNotInitialized"}
_CLIENT_ERRORS = (S3Error, ServerError, InvalidResponseError, urllib3.exceptions.HTTPError, OSError)


def _unavailable(error: Exception) -> BackendUnavailable | None:
    """The outage an SDK error means: connection failures, time-outs, 5xx answers; None for other answers."""
    if isinstance(error, S3Error):
        status = getattr(error.response, "status", 0) or 0
        if error.code in UNAVAILABLE_CODES or status >= 500:
            return BackendUnavailable(MINIO, f"{error.code} (HTTP {status})")
        return None
    # The class name only: urllib3's messages repeat the request URL.
    return BackendUnavailable(MINIO, f"no answer ({type(error).__name__})")


def minio_outages() -> AbstractContextManager[None]:
    """Inside: any SDK call whose failure means MinIO is down raises `BackendUnavailable` instead."""
    return outages_raised(_CLIENT_ERRORS, _unavailable)


_minio_call = outages_translated(_CLIENT_ERRORS, _unavailable)


class MinioBlobStore(BlobStore):
    name = "minio"

    def __init__(self, client: Minio, buckets: dict[BlobKind, str]) -> None:
        self.client = client
        self.buckets = buckets

    @_minio_call
    def ensure(self) -> None:
        for bucket in self.buckets.values():
            if not self.client.bucket_exists(bucket):
                try:
                    self.client.make_bucket(bucket)
                except S3Error as error:
                    # Another process created it between our check and our call.
                    if error.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

    @_minio_call
    def put(self, kind: BlobKind, image_id: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            self.buckets[kind], blob_key(image_id), io.BytesIO(data), len(data), content_type=content_type
        )

    @_minio_call
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

    @_minio_call
    def delete(self, kind: BlobKind, image_id: str) -> None:
        # S3 deletes are idempotent: removing a missing key succeeds.
        self.client.remove_object(self.buckets[kind], blob_key(image_id))

    @_minio_call
    def exists(self, kind: BlobKind, image_id: str) -> bool:
        try:
            self.client.stat_object(self.buckets[kind], blob_key(image_id))
        except S3Error as error:
            if error.code in MISSING_CODES:
                return False
            raise
        return True

    def list_ids(self, kind: BlobKind) -> Iterator[tuple[str, datetime]]:
        with minio_outages():
            for item in self.client.list_objects(self.buckets[kind], recursive=True):
                if item.object_name is None:
                    continue
                modified = item.last_modified or datetime.now(UTC)
                yield item.object_name.rsplit("/", 1)[-1], modified

    @_minio_call
    def ping(self) -> None:
        for bucket in self.buckets.values():
            if not self.client.bucket_exists(bucket):
                raise BackendUnavailable(MINIO, f"the bucket {bucket} is missing")
