"""The blob store interface: content-addressed originals and thumbnails."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum


class BlobKind(StrEnum):
    ORIGINAL = "original"
    THUMBNAIL = "thumbnail"


def blob_key(image_id: str) -> str:
    """`ab/abcdef…`: a two-character fan-out keeps directory listings short on the filesystem store."""
    return f"{image_id[:2]}/{image_id}"


class BlobStore(ABC):
    @abstractmethod
    def ensure(self) -> None:
        """Create buckets or folders that are missing."""

    @abstractmethod
    def put(self, kind: BlobKind, image_id: str, data: bytes, content_type: str) -> None:
        """Store (or overwrite with identical content-addressed bytes)."""

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
