"""The two locks the embedded index takes: one process per directory, and searches against writes on the graph."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from imgsearch.errors import BackendUnavailable

LOCK_FILE = "index.lock"


def own_directory(data_dir: Path) -> TextIO:
    """Hold the directory's lock file for this process; `BackendUnavailable` if another process holds it."""
    # Two processes would each hold a graph missing the other's writes: one owner at a time.
    lock_file = (data_dir / LOCK_FILE).open("a")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        lock_file.close()
        raise BackendUnavailable(
            "the embedded index", f"{data_dir} is open in another process: close that first"
        ) from error
    return lock_file


class ReadWriteLock:
    """Searches share the graph; a write has it alone (usearch may reallocate its storage while adding)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writers_waiting = 0
        self._writer_active = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writer_active and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not self._writer_active and not self._readers)
            self._writers_waiting -= 1
            self._writer_active = True
        try:
            yield
        finally:
            with self._condition:
                self._writer_active = False
                self._condition.notify_all()
