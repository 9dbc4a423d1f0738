"""Data generations of the embedded index: one directory each, and a pointer file naming the one in use.

`imgsearch reindex` builds a new generation beside the current one (`index-<timestamp>`), then replaces the
pointer atomically. A process that opened the old generation keeps reading it; its writes are refused from then
on (`IndexReplaced`), and the old directory stays until `imgsearch reindex --drop-old`. Without a pointer file the
generation in use is `index`, the directory every earlier version wrote.
"""

from __future__ import annotations

import fcntl
import shutil
from datetime import UTC, datetime
from pathlib import Path

from imgsearch.errors import InvalidRequest
from imgsearch.index.base import VectorIndex
from imgsearch.index.embedded.graph_file import fsync_and_replace
from imgsearch.index.embedded.locks import LOCK_FILE
from imgsearch.index.embedded.store import DB_FILE, Store
from imgsearch.index.generations import ImageListing, IndexGenerations
from imgsearch.index.types import ImageDocument

FIRST_GENERATION = "index"
POINTER_FILE = "index.current"


def current_dir(root: Path) -> Path:
    """The generation directory searches and writes use now."""
    pointer = root / POINTER_FILE
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return root / FIRST_GENERATION
    if not _is_generation_name(name):
        raise ValueError(f"{pointer} names {name!r}, not a generation directory")
    return root / name


def new_dir(root: Path) -> Path:
    """A fresh directory for the next generation (not created yet)."""
    return root / f"{FIRST_GENERATION}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"


def switch_to(root: Path, generation: Path) -> None:
    """Make `generation` the one in use: processes opening the index from now on open it."""
    if generation.parent != root or not _is_generation_name(generation.name) or not generation.is_dir():
        raise ValueError(f"{generation} is not a generation directory of {root}")
    temporary = root / f"{POINTER_FILE}.tmp"
    temporary.write_text(generation.name + "\n")
    fsync_and_replace(temporary, root / POINTER_FILE)


def retired_dirs(root: Path) -> list[Path]:
    """Generation directories other than the one in use (kept after a switch, or left by an abandoned build)."""
    in_use = current_dir(root)
    found = [path for path in root.iterdir() if path.is_dir() and _is_generation_name(path.name)]
    return sorted(path for path in found if path != in_use)


def drop(generation: Path) -> bool:
    """Delete a generation directory unless a process has it open; False when one does."""
    lock_path = generation / LOCK_FILE
    if not lock_path.exists():
        shutil.rmtree(generation)
        return True
    with lock_path.open("a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(generation)
    return True


def _is_generation_name(name: str) -> bool:
    if name == FIRST_GENERATION:
        return True
    prefix, _, stamp = name.partition("-")
    return prefix == FIRST_GENERATION and len(stamp) == 20 and stamp.isdigit()


class EmbeddedListing:
    """One generation's images, read beside the process that may have it open."""

    def __init__(self, generation: Path) -> None:
        self._store = Store(generation, read_only=True)

    def model_id(self) -> str | None:
        meta = self._store.meta()
        return meta.model_id if meta else None

    def image_count(self) -> int:
        return self._store.image_count()

    def documents_after(self, image_id: str | None, limit: int) -> list[ImageDocument]:
        return self._store.documents_after(image_id, limit)


class EmbeddedGenerations(IndexGenerations):
    def __init__(self, root: Path, ef_search_default: int = 128) -> None:
        self.root = root
        self.ef_search_default = ef_search_default

    def in_use(self) -> str | None:
        generation = current_dir(self.root)
        return generation.name if (generation / DB_FILE).is_file() else None

    def listing(self, name: str) -> ImageListing:
        return EmbeddedListing(self.root / name)

    def create(self, model_id: str, dim: int) -> str:
        generation = new_dir(self.root)
        generation.mkdir(parents=True)
        return generation.name

    def open(self, name: str) -> VectorIndex | None:
        from imgsearch.index.embedded.index import EmbeddedIndex

        generation = self.root / name
        if not _is_generation_name(name) or not generation.is_dir():
            return None
        # No `root`: writes to a generation being built must not wait for it to be the one in use.
        return EmbeddedIndex(generation, ef_search_default=self.ef_search_default)

    def switch(self, name: str) -> None:
        in_use = current_dir(self.root)
        if not (in_use / DB_FILE).is_file():
            switch_to(self.root, self.root / name)
            return
        # Under the old generation's write lock: a write there commits before the switch (and the re-index's
        # catch-up after it sees it) or checks the pointer after it and is refused.
        old = Store(in_use)
        try:
            with old.writes_held():
                switch_to(self.root, self.root / name)
        finally:
            old.close()

    def not_in_use(self) -> list[str]:
        return [path.name for path in retired_dirs(self.root)]

    def drop(self, name: str) -> bool:
        if self.root / name == current_dir(self.root):
            raise InvalidRequest(f"{name} is the index in use: it is not dropped")
        return drop(self.root / name)
