"""The embedded graph's read-write lock: searches share it, a write has it alone and is not starved by searches."""

from __future__ import annotations

import threading

from imgsearch.index.embedded.locks import ReadWriteLock

WAIT_S = 5.0


def test_readers_share_the_lock_and_a_writer_waits_for_the_last_of_them() -> None:
    lock = ReadWriteLock()
    both_reading = threading.Barrier(3, timeout=WAIT_S)
    release = threading.Event()
    events: list[str] = []

    def reader(name: str) -> None:
        with lock.reading():
            both_reading.wait()  # only passes if the two readers hold the lock at once
            release.wait(WAIT_S)
            events.append(f"{name} done")

    def writer() -> None:
        with lock.writing():
            events.append("write")

    readers = [threading.Thread(target=reader, args=(name,)) for name in ("r1", "r2")]
    for thread in readers:
        thread.start()
    both_reading.wait()
    writing = threading.Thread(target=writer)
    writing.start()
    writing.join(0.2)
    assert writing.is_alive() and events == []  # the writer waits while searches hold the graph
    release.set()
    for thread in [*readers, writing]:
        thread.join(WAIT_S)
    assert sorted(events[:2]) == ["r1 done", "r2 done"] and events[2] == "write"


def test_a_waiting_writer_goes_before_readers_that_come_after_it() -> None:
    lock = ReadWriteLock()
    first_reading = threading.Event()
    release_first = threading.Event()
    order: list[str] = []

    def first_reader() -> None:
        with lock.reading():
            first_reading.set()
            release_first.wait(WAIT_S)

    def writer() -> None:
        with lock.writing():
            order.append("write")

    def late_reader() -> None:
        with lock.reading():
            order.append("late read")

    holding = threading.Thread(target=first_reader)
    holding.start()
    first_reading.wait(WAIT_S)
    writing = threading.Thread(target=writer)
    writing.start()
    while not lock._writers_waiting:  # the writer must be queued before the late reader comes
        writing.join(0.001)
    reading = threading.Thread(target=late_reader)
    reading.start()
    reading.join(0.2)
    assert reading.is_alive()  # a stream of searches cannot starve a write
    release_first.set()
    for thread in (holding, writing, reading):
        thread.join(WAIT_S)
    assert order == ["write", "late read"]


def test_an_error_inside_releases_the_lock() -> None:
    lock = ReadWriteLock()
    for hold in (lock.reading, lock.writing):
        try:
            with hold():
                raise KeyError("inside")
        except KeyError:
            pass
    with lock.writing():  # would wait forever if either had stayed held
        pass
