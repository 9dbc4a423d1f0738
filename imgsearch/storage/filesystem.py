"""Blobs as files under one folder, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from imgsearch.errors import BackendUnavailable, NotFound, outages_translated
from imgsearch.storage.base import BlobKind, BlobStore, blob_key

BLOB_FOLDER = "the blob folder"

# A folder that is gone, read-only, full or unmounted is an outage of the store, not a bug.
_filesystem_call = outages_translated(
    (OSError,),
    lambda error: BackendUnavailable(BLOB_FOLDER, f"{type(error).__name__} ({getattr(error, 'strerror', '')})"),
)


class FilesystemBlobStore(BlobStore):
    name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: BlobKind, image_id: str) -> Path:
        return self.root / kind.value / blob_key(image_id)

    @_filesystem_call
    def ensure(self) -> None:
        for kind in BlobKind:
            (self.root / kind.value).mkdir(parents=True, exist_ok=True)

    @_filesystem_call
    def put(self, kind: BlobKind, image_id: str, data: bytes, content_type: str) -> None:
        target = self._path(kind, image_id)
        # Only the fan-out folder: a missing root (an unmounted disk) is an outage, not a folder to create.
        target.parent.mkdir(exist_ok=True)
        # A crash mid-write must never leave a half file under the final name.
        handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as temp_file:
                temp_file.write(data)
                temp_file.flush()
                os.fsync(temp_file.fileno())
            Path(temp_name).replace(target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    @_filesystem_call
    def get(self, kind: BlobKind, image_id: str) -> bytes:
        try:
            return self._path(kind, image_id).read_bytes()
        except FileNotFoundError:
            if not (self.root / kind.value).is_dir():
                raise BackendUnavailable(BLOB_FOLDER, f"{self.root / kind.value} is missing") from None
            raise NotFound(f"no {kind.value} stored for image {image_id}") from None

    @_filesystem_call
    def delete(self, kind: BlobKind, image_id: str) -> None:
        self._path(kind, image_id).unlink(missing_ok=True)

    @_filesystem_call
    def exists(self, kind: BlobKind, image_id: str) -> bool:
        return self._path(kind, image_id).is_file()

    @_filesystem_call
    def list_ids(self, kind: BlobKind) -> Iterator[tuple[str, datetime]]:
        folder = self.root / kind.value
        if not folder.is_dir():
            raise BackendUnavailable(BLOB_FOLDER, f"{folder} is not a folder")
        return self._listed(folder)

    @staticmethod
    def _listed(folder: Path) -> Iterator[tuple[str, datetime]]:
        for path in folder.glob("*/*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.name, datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)

    def ping(self) -> None:
        for kind in BlobKind:
            folder = self.root / kind.value
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise BackendUnavailable(BLOB_FOLDER, f"{folder} is not a writable folder")
