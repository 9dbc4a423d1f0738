"""The blob store interface: content-addressed originals and thumbnails."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from imgsearch.ids import check_image_id


class BlobKind(StrEnum):
    ORIGINAL = "original"
    THUMBNAIL = "thumbnail"


def blob_key(image_id: str) -> str:
    """`ab/abcdef…`: a two-character fan-out keeps directory listings short on the filesystem store.

    Only well-formed ids become keys: `..`, `/` or a 600-character id never reach a path or a bucket.
    """
    check_image_id(image_id)
    return f"{image_id[:2]}/{image_id}"


class Blob(NamedTuple):
    image_id: str
    data: bytes
    content_type: str


class BlobStore(ABC):
    """Every failure to reach the store is `imgsearch.errors.BackendUnavailable`, naming the store."""

    name: str = "blobs"

    @abstractmethod
    def ensure(self) -> None:
        """Create buckets or folders that are missing."""

    @abstractmethod
    def put(self, kind: BlobKind, image_id: str, data: bytes, content_type: str) -> None:
        """Store (or overwrite with identical content-addressed bytes)."""

    def put_many(self, kind: BlobKind, blobs: Sequence[Blob]) -> None:
        """Store several, in as few requests as the store allows; on a failure any of them may be stored already."""
        for blob in blobs:
            self.put(kind, blob.image_id, blob.data, blob.content_type)

    @abstractmethod
    def get(self, kind: BlobKind, image_id: str) -> bytes:
        """The stored bytes; raises `imgsearch.errors.NotFound` when absent."""

    @abstractmethod
    def delete(self, kind: BlobKind, image_id: str) -> None:
        """Remove if present (idempotent)."""

    @abstractmethod
    def exists(self, kind: BlobKind, image_id: str) -> bool: ...

    @abstractmethod
    def list_ids(self, kind: BlobKind) -> Iterator[tuple[str, datetime]]:
        """Every stored image id of this kind with its last-modified time (for `reconcile`)."""

    @abstractmethod
    def ping(self) -> None:
        """Return when the store can serve reads and writes; raise `BackendUnavailable` saying why not."""
