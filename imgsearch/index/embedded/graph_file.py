"""The graph file and the JSON state beside it: replaced atomically, trusted on open only when its checksum holds."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from usearch.index import Index

ANN_FILE = "objects.usearch"
ANN_STATE_FILE = "objects.usearch.json"


def crc32(path: Path) -> int:
    crc = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def fsync_and_replace(temporary: Path, path: Path) -> None:
    """Make `temporary` durable and rename it over `path`: readers see the old file or the new one, never a mix."""
    with temporary.open("rb") as file:
        os.fsync(file.fileno())
    temporary.replace(path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def restore(data_dir: Path, dim: int, dtype: str, connectivity: int) -> tuple[Index, int] | None:
    """The graph file and the generation it reflects, or None if it is missing, corrupt or built otherwise."""
    path = data_dir / ANN_FILE
    try:
        state = json.loads((data_dir / ANN_STATE_FILE).read_text())
        if (state["dim"], state["dtype"], state["connectivity"]) != (dim, dtype, connectivity):
            return None
        # usearch loads some damaged files without complaint, so the checksum is ours.
        if path.stat().st_size != state["size"] or crc32(path) != state["crc32"]:
            return None
        ann = Index.restore(path)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None
    if ann is None or ann.ndim != dim:
        return None
    return ann, int(state["generation"])


def temporary_path(data_dir: Path) -> Path:
    """Where `Index.save` writes before `publish` moves the file into place."""
    path = data_dir / ANN_FILE
    return path.with_name(path.name + ".tmp")


def publish(data_dir: Path, temporary: Path, state: dict[str, object]) -> None:
    """Move the graph saved at `temporary` into place, then the state naming its generation and checksum."""
    graph_path = data_dir / ANN_FILE
    # A crash between the two renames leaves a checksum that fails: the next open rebuilds.
    fsync_and_replace(temporary, graph_path)
    state = state | {"size": graph_path.stat().st_size, "crc32": crc32(graph_path)}
    state_path = data_dir / ANN_STATE_FILE
    state_temporary = state_path.with_name(state_path.name + ".tmp")
    state_temporary.write_text(json.dumps(state))
    fsync_and_replace(state_temporary, state_path)
