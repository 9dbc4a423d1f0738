"""Run a function over items in worker threads, a bounded number ahead, yielding results in input order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


def ordered_prefetch(
    function: Callable[[ItemT], ResultT], items: Iterable[ItemT], workers: int, ahead: int
) -> Iterator[ResultT]:
    """Like `map`, but at most `ahead` calls run or wait finished at once, so memory stays bounded."""
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imgsearch-decode") as pool:
        pending: deque[Future[ResultT]] = deque(pool.submit(function, item) for item in islice(iterator, ahead))
        while pending:
            result = pending.popleft().result()
            for item in islice(iterator, 1):
                pending.append(pool.submit(function, item))
            yield result


def batched(items: Iterable[ItemT], size: int) -> Iterator[list[ItemT]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
