"""The two locks the embedded index takes: one process per directory, and searches against writes on the graph."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
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
    """Searches share the graph; a write has it alone (usearch may reallocate its storage while adding).

    `reading()` and `writing()` return small context managers rather than generator-based ones: every search takes
    the read lock, and the generator machinery cost it several microseconds next to the graph walk. For the same
    reason the counts are guarded by the condition's own mutex, entered directly: `Condition.__enter__` is Python.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._condition = threading.Condition(self._mutex)
        self._readers = 0
        self._writers_waiting = 0
        self._writer_active = False
        self._reading = _Held(self.acquire_read, self.release_read)
        self._writing = _Held(self.acquire_write, self.release_write)

    def reading(self) -> AbstractContextManager[None]:
        return self._reading

    def writing(self) -> AbstractContextManager[None]:
        return self._writing

    def acquire_read(self) -> None:
        with self._mutex:
            while self._writer_active or self._writers_waiting:
                self._condition.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._writers_waiting:
                self._condition.notify_all()

    def acquire_write(self) -> None:
        with self._mutex:
            self._writers_waiting += 1
            while self._writer_active or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writer_active = True

    def release_write(self) -> None:
        with self._mutex:
            self._writer_active = False
            self._condition.notify_all()


class _Held(AbstractContextManager[None]):
    """A `with` block holding the lock: `acquire` on entry, `release` on the way out, however it leaves."""

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]) -> None:
        self._acquire, self._release = acquire, release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._release()
