"""Model work off the event loop, with bounded concurrency: a full queue is a quick 503, not a pile-up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from imgsearch.errors import ImgsearchError
from imgsearch.metrics import REJECTED

ResultT = TypeVar("ResultT")


class Saturated(ImgsearchError):
    code = "saturated"


class ModelRunner:
    """`workers` calls run at once and `queue_size` more may wait; anything beyond is refused at once."""

    def __init__(self, workers: int, queue_size: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imgsearch-model")
        self._slots = threading.BoundedSemaphore(workers + queue_size)
        self._in_progress = 0
        self._count_lock = threading.Lock()

    def others_in_progress(self) -> int:
        """Requests running or waiting here, besides the one asking (the model batchers' hint for company)."""
        with self._count_lock:
            return max(0, self._in_progress - 1)

    def _count(self, change: int) -> None:
        with self._count_lock:
            self._in_progress += change

    async def run(self, function: Callable[..., ResultT], *args: object) -> ResultT:
        if not self._slots.acquire(blocking=False):
            REJECTED.inc()
            raise Saturated("the server is busy with other images; retry in a moment")
        self._count(+1)
        try:
            future: Future[ResultT] = self._executor.submit(function, *args)
        except BaseException:
            self._count(-1)
            self._slots.release()
            raise
        # Freed when the work really ends, even if the client went away and the request was cancelled.
        future.add_done_callback(lambda _done: (self._count(-1), self._slots.release()))
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
