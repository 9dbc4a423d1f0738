"""Prefetching keeps input order, bounds how far it runs ahead, and batches cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pipeline.stream import batched, ordered_prefetch


def test_results_come_in_input_order_even_when_later_items_finish_first() -> None:
    def slow_for_small(value: int) -> int:
        time.sleep(0.002 * (10 - value))
        return value * value

    assert list(ordered_prefetch(slow_for_small, range(10), workers=4, ahead=6)) == [v * v for v in range(10)]


def test_never_more_than_ahead_items_in_flight() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def record(value: int) -> int:
        with lock:
            started.append(value)
        return value

    consumed = 0
    for _ in ordered_prefetch(record, range(100), workers=2, ahead=5):
        consumed += 1
        with lock:
            assert len(started) <= consumed + 5
    assert consumed == 100


def test_batched() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []


def test_items_that_fail_to_come_fail_after_the_results_of_those_before() -> None:
    def items() -> Iterator[int]:
        yield from range(3)
        raise RuntimeError("the source broke")

    received: list[int] = []
    with pytest.raises(RuntimeError, match="source broke"):
        for value in ordered_prefetch(lambda value: value * 10, items(), workers=2, ahead=2):
            received.append(value)
    assert received == [0, 10, 20]
