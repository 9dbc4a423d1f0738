"""Blobs in MinIO (any S3 API) through the `minio` SDK: one bucket for originals, one for thumbnails."""

from __future__ import annotations

import io
import logging
import tarfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError

from imgsearch.errors import BackendUnavailable, NotFound, outages_raised, outages_translated
from imgsearch.storage.base import Blob, BlobKind, BlobStore, blob_key

log = logging.getLogger(__name__)

MINIO = "MinIO"
MISSING_CODES = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}
# S3 errors that say "not now" rather than "not so": a server starting, throttling or short of quorum.
UNAVAILABLE_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "XMinioServerNotInitialized"}
_CLIENT_ERRORS = (S3Error, ServerError, InvalidResponseError, urllib3.exceptions.HTTPError, OSError)
# MinIO's extract-on-upload (the SDK's `upload_snowball_objects`): one request stores a tar's members as objects.
EXTRACT_HEADER = "X-Amz-Meta-Snowball-Auto-Extract"
# Members up to this size MinIO writes side by side; bigger blobs (photos) gain little from sharing a request.
EXTRACTED_MAX_BYTES = 1024 * 1024


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

    def __init__(self, client: Minio, buckets: dict[BlobKind, str], batch_uploads: bool = True) -> None:
        """`batch_uploads`: several small blobs go up as one tar that MinIO extracts (a quarter of the client's
        CPU per object, two thirds of MinIO's). Whether the server extracts is checked on the first such upload;
        an S3 server that does not gets one request per blob from then on."""
        self.client = client
        self.buckets = buckets
        self._extracts: bool | None = None if batch_uploads else False

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
    def put_many(self, kind: BlobKind, blobs: Sequence[Blob]) -> None:
        small = [blob for blob in blobs if len(blob.data) <= EXTRACTED_MAX_BYTES]
        if len(small) >= 2 and self._extracts is not False and self._put_extracted(kind, small):
            blobs = [blob for blob in blobs if len(blob.data) > EXTRACTED_MAX_BYTES]
        for blob in blobs:
            self.put(kind, blob.image_id, blob.data, blob.content_type)

    def _put_extracted(self, kind: BlobKind, blobs: Sequence[Blob]) -> bool:
        """Upload the blobs as one tar for the server to extract; False when it turns out not to (nothing stored)."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for blob in blobs:
                member = tarfile.TarInfo(blob_key(blob.image_id))
                member.size, member.mtime = len(blob.data), int(time.time())
                member.pax_headers = {"minio.metadata.Content-Type": blob.content_type}  # read by MinIO per member
                tar.addfile(member, io.BytesIO(blob.data))
        size = archive.tell()
        archive.seek(0)
        tar_name = f"imgsearch-batch-{uuid.uuid4().hex}.tar"
        bucket = self.buckets[kind]
        try:
            self.client.put_object(bucket, tar_name, archive, size, metadata={EXTRACT_HEADER: "true"})
        except S3Error as error:
            if self._extracts is not None:
                raise
            # Refused on first use (NotImplemented, say): this server gets one request per blob, which fail on
            # their own if the refusal was about something else.
            log.warning("the S3 server refused a batch upload (%s): one request per blob from now on", error.code)
            self._extracts = False
            return False
        if self._extracts is None:
            self._extracts = self._were_extracted(bucket, tar_name, blobs)
        return self._extracts

    def _were_extracted(self, bucket: str, tar_name: str, blobs: Sequence[Blob]) -> bool:
        """Whether every member is now an object: a server that ignores the header keeps the tar as an object (or
        answers 200 and stores nothing)."""
        for blob in blobs:
            try:
                self.client.stat_object(bucket, blob_key(blob.image_id))
            except S3Error as error:
                if error.code not in MISSING_CODES:
                    raise
                log.warning("the S3 server does not extract batch uploads: one request per blob from now on")
                self.client.remove_object(bucket, tar_name)
                return False
        return True

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
