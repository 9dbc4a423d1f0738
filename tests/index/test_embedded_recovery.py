"""The embedded index across restarts and crashes: what SQLite committed is exactly what comes back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imgsearch.index.embedded import ANN_FILE, ANN_STATE_FILE, EmbeddedIndex
from imgsearch.index.types import IndexEntry
from pipeline.records import ObjectKind
from tests.index.test_embedded import (
    EXACT_DTYPE,
    MODEL,
    REPO_ROOT,
    assert_same_ranking,
    brute_force,
    make_entries,
    open_index,
    query_for,
    unit_rows,
)


def test_close_and_reopen_gives_the_same_results(tmp_path: Path) -> None:
    entries = make_entries(seed=16, count=300)
    queries = [query_for(v, k=10) for v in unit_rows(np.random.default_rng(17), 5)]
    index = open_index(tmp_path / "persist")
    index.add(entries)
    before = [index.search(query) for query in queries]
    stats = index.stats()
    index.close()
    reopened = EmbeddedIndex(tmp_path / "persist")
    assert reopened.model_id() == MODEL
    assert [reopened.search(query) for query in queries] == before
    assert reopened.stats().images == stats.images and reopened.stats().labels == stats.labels
    reopened.close()


def assert_holds_exactly(data_dir: Path, entries: list[IndexEntry]) -> None:
    """Reopen `data_dir` and check that it stores, and searches over, exactly `entries`."""
    index = EmbeddedIndex(data_dir, dtype=EXACT_DTYPE)
    try:
        assert index.stats().images == len(entries)
        kinds = (ObjectKind.OBJECT, ObjectKind.IMAGE)
        for query_vector in unit_rows(np.random.default_rng(18), 3):
            query = query_for(query_vector, k=len(entries) + 5, kinds=kinds, num_candidates=10_000)
            assert_same_ranking(index.search(query), brute_force(entries, query))
    finally:
        index.close()


def start_and_crash(data_dir: Path, writes: str, save_interval_s: float) -> subprocess.Popen[bytes]:
    """Run `writes` in a child process holding `index` open on `data_dir`; it ends without closing, as in a crash."""
    program = (
        "import os\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "from tests.index.test_embedded import EXACT_DTYPE, DIM, MODEL, EmbeddedIndex\n"
        "from tests.index.test_embedded import image_id, make_entry, make_entries\n"
        f"index = EmbeddedIndex(Path({str(data_dir)!r}), dtype=EXACT_DTYPE, save_interval_s={save_interval_s})\n"
        "index.ensure(MODEL, DIM)\n"
        f"{writes}\n"
        "os._exit(0)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-c", program], cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE)


def test_a_crash_before_the_graph_is_saved_is_replayed_from_sqlite(tmp_path: Path) -> None:
    data_dir = tmp_path / "stale"
    entries = make_entries(seed=19, count=40)
    index = open_index(data_dir, dtype=EXACT_DTYPE)
    index.add(entries[:20])
    index.close()
    saved_generation = json.loads((data_dir / ANN_STATE_FILE).read_text())["generation"]

    writes = (
        "entries = make_entries(seed=19, count=40)\n"
        "index.add(entries[20:])\n"
        "index.delete(entries[0].document.image_id)\n"
        "index.delete(entries[25].document.image_id)"
    )
    assert start_and_crash(data_dir, writes, save_interval_s=3600).wait() == 0
    # The child died with the graph file three writes behind SQLite.
    assert json.loads((data_dir / ANN_STATE_FILE).read_text())["generation"] == saved_generation
    assert_holds_exactly(data_dir, [e for i, e in enumerate(entries) if i not in (0, 25)])


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated", "bad_state", "no_state"])
def test_a_damaged_graph_file_is_rebuilt_from_sqlite(tmp_path: Path, damage: str) -> None:
    data_dir = tmp_path / damage
    entries = make_entries(seed=20, count=30)
    index = open_index(data_dir, dtype=EXACT_DTYPE)
    index.add(entries)
    index.close()
    graph = data_dir / ANN_FILE
    if damage == "missing":
        graph.unlink()
    elif damage == "corrupt":
        payload = bytearray(graph.read_bytes())
        payload[len(payload) // 2 : len(payload) // 2 + 512] = os.urandom(512)
        graph.write_bytes(bytes(payload))
    elif damage == "truncated":
        graph.write_bytes(graph.read_bytes()[:100])
    elif damage == "bad_state":
        (data_dir / ANN_STATE_FILE).write_text("{not json")
    else:
        (data_dir / ANN_STATE_FILE).unlink()
    assert_holds_exactly(data_dir, entries)


def test_a_graph_file_ahead_of_sqlite_is_rebuilt(tmp_path: Path) -> None:
    """After a power cut SQLite (synchronous=NORMAL) may lose its last commits while the graph file kept them."""
    entries = make_entries(seed=21, count=30)
    index = open_index(tmp_path / "live", dtype=EXACT_DTYPE)
    index.add(entries[:20])
    index.close()
    shutil.copytree(tmp_path / "live", tmp_path / "earlier")
    index = EmbeddedIndex(tmp_path / "live", dtype=EXACT_DTYPE)
    index.add(entries[20:])
    index.close()
    for name in (ANN_FILE, ANN_STATE_FILE):
        shutil.copy(tmp_path / "live" / name, tmp_path / "earlier" / name)
    assert_holds_exactly(tmp_path / "earlier", entries[:20])


ENDLESS_WRITES = """
rng = np.random.default_rng(0)
for number in range(0, 10**9, 4):
    index.add([make_entry(rng, number + offset) for offset in range(4)])
    index.delete(image_id(number // 2))
    print("wrote", flush=True)
"""


def test_a_process_killed_while_writing_comes_back_with_exactly_the_committed_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "killed"
    writer = start_and_crash(data_dir, ENDLESS_WRITES, save_interval_s=0.0)  # saves after every write
    assert writer.stdout is not None
    for _ in range(5):
        assert writer.stdout.readline().strip() == b"wrote"
    time.sleep(0.2)  # lands the kill somewhere inside a later add, delete or save
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    index = EmbeddedIndex(data_dir, dtype=EXACT_DTYPE)
    committed: list[IndexEntry] = []
    cursor: str | None = None
    while True:
        page = index.browse(cursor, 100)
        for document in page.images:
            vectors = index.vectors(document.image_id)
            assert vectors is not None
            committed.append(IndexEntry(document, vectors))
        if (cursor := page.next_cursor) is None:
            break
    index.close()
    assert len(committed) >= 15, "five rounds of four adds and one delete were reported before the kill"
    assert_holds_exactly(data_dir, committed)
