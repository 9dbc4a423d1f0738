"""Calls from many threads share one model batch: concurrent searches and uploads meet in front of a model.

A `MicroBatcher` owns one worker thread that runs the model. A caller hands over its own items (one query image,
a few crops) and blocks until its results come back, in its order. The worker takes the oldest waiting call,
waits at most `max_wait_s` for more to arrive (not at all when no other request is in progress; never beyond
`max_batch` items), runs them as one batch and
splits the outputs back. The queue is bounded by its callers: each waits for its answer, so no more calls wait
than threads call (the API bounds those, answering 503 beyond). A batch that fails is run again one call at a
time, so one bad input fails only its own call; a call cancelled (its caller timed out) before its batch starts
is left out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass
class _Call(Generic[ItemT, ResultT]):
    items: list[ItemT]
    future: Future[list[ResultT]] = field(default_factory=Future)


class MicroBatcher(Generic[ItemT, ResultT]):
    def __init__(
        self,
        run: Callable[[list[ItemT]], Sequence[ResultT]],
        max_batch: int,
        max_wait_s: float,
        name: str = "micro-batcher",
        company: Callable[[], int] | None = None,
    ) -> None:
        """`company`: how many other requests are in progress now and may soon call too; with none, a call runs
        at once instead of waiting for others that will not come."""
        self._run = run
        self._company = company
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._waiting: deque[_Call[ItemT, ResultT]] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self.batches_run = 0  # for tests and metrics: how many model calls the calls shared
        self._worker = threading.Thread(target=self._serve, name=name, daemon=True)
        self._worker.start()

    def __call__(self, items: list[ItemT], timeout_s: float | None = None) -> list[ResultT]:
        """The model's outputs for these items; raises what the model raised for them, or `TimeoutError`."""
        if not items:
            return []
        call: _Call[ItemT, ResultT] = _Call(list(items))
        with self._condition:
            if self._closed:
                raise RuntimeError("the model's batcher is closed")
            self._waiting.append(call)
            self._condition.notify_all()
        try:
            return call.future.result(timeout_s)
        except FutureTimeout:
            call.future.cancel()  # left out if its batch has not started
            raise TimeoutError(f"no model answer within {timeout_s} s") from None

    def close(self) -> None:
        """Finish the calls already waiting, then stop the worker."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._worker.join()

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._answer(batch)

    def _next_batch(self) -> list[_Call[ItemT, ResultT]] | None:
        """The oldest call and those that join it within the wait, up to `max_batch` items; None once closed and
        drained."""
        with self._condition:
            self._condition.wait_for(lambda: self._waiting or self._closed)
            if not self._waiting:
                return None
            batch = [self._waiting.popleft()]
            size = len(batch[0].items)
            alone = self._company is not None and self._company() <= len(self._waiting)
            deadline = time.monotonic() + (0.0 if alone else self.max_wait_s)
            while size < self.max_batch:
                if not self._waiting:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._closed or not self._condition.wait(left):
                        break
                    continue
                if size + len(self._waiting[0].items) > self.max_batch:
                    break  # the next call starts the next batch
                joining = self._waiting.popleft()
                batch.append(joining)
                size += len(joining.items)
        return [call for call in batch if call.future.set_running_or_notify_cancel()]

    def _answer(self, batch: list[_Call[ItemT, ResultT]]) -> None:
        if not batch:
            return
        try:
            outputs = list(self._run([item for call in batch for item in call.items]))
            self.batches_run += 1
        except Exception as error:  # noqa: BLE001 (whatever the model raised goes to its caller)
            if len(batch) == 1:
                batch[0].future.set_exception(error)
                return
            for call in batch:  # one at a time: only the call holding the bad input fails
                self._answer_alone(call)
            return
        offset = 0
        for call in batch:
            call.future.set_result(outputs[offset : offset + len(call.items)])
            offset += len(call.items)

    def _answer_alone(self, call: _Call[ItemT, ResultT]) -> None:
        try:
            call.future.set_result(list(self._run(call.items)))
            self.batches_run += 1
        except Exception as error:  # noqa: BLE001 (its own error)
            call.future.set_exception(error)
