"""Blobs as files under one folder, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from imgsearch.errors import NotFound
from imgsearch.storage.base import BlobKind, BlobStore, blob_key


class FilesystemBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: BlobKind, image_id: str) -> Path:
        return self.root / kind.value / blob_key(image_id)

    def ensure(self) -> None:
        for kind in BlobKind:
            (self.root / kind.value).mkdir(parents=True, exist_ok=True)

    def put(self, kind: BlobKind, image_id: str, data: bytes, content_type: str) -> None:
        target = self._path(kind, image_id)
        target.parent.mkdir(parents=True, exist_ok=True)
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

    def get(self, kind: BlobKind, image_id: str) -> bytes:
        try:
            return self._path(kind, image_id).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no {kind.value} stored for image {image_id}") from None

    def delete(self, kind: BlobKind, image_id: str) -> None:
        self._path(kind, image_id).unlink(missing_ok=True)

    def exists(self, kind: BlobKind, image_id: str) -> bool:
        return self._path(kind, image_id).is_file()

    def list_ids(self, kind: BlobKind) -> Iterator[tuple[str, datetime]]:
        for path in (self.root / kind.value).glob("*/*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.name, datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
