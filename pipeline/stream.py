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
    function: Callable[[ItemT], ResultT],
    items: Iterable[ItemT],
    workers: int,
    ahead: int,
    thread_name: str = "imgsearch-decode",
) -> Iterator[ResultT]:
    """Like `map`, but at most `ahead` calls run or wait finished at once, so memory stays bounded. The items are
    drawn in the caller's thread."""
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name) as pool:
        pending: deque[Future[ResultT]] = deque()
        failure: Exception | None = None

        def draw(count: int) -> None:
            nonlocal failure
            try:
                for item in islice(iterator, count):
                    pending.append(pool.submit(function, item))
            except Exception as error:  # noqa: BLE001 (raised once the items drawn before it are answered)
                failure = error

        draw(ahead)
        while pending:
            result = pending.popleft().result()
            if failure is None:
                draw(1)
            yield result
        if failure is not None:
            raise failure


def batched(items: Iterable[ItemT], size: int) -> Iterator[list[ItemT]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
