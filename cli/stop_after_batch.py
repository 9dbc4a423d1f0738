"""Ctrl-C as a clean stop for long commands: the work in flight is finished and recorded, then the command ends."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TypeVar

T = TypeVar("T")


class StopAfterBatch:
    """Ctrl-C asks for a clean stop: the sources stop flowing, the batch in flight is written, then it ends."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def __enter__(self) -> StopAfterBatch:
        self._previous = signal.signal(signal.SIGINT, self._ask)
        return self

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _ask(self, _signal: int, _frame: FrameType | None) -> None:
        if self.requested.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested.set()

    def sources(self, sources: list[T]) -> Iterator[T]:
        for source in sources:
            if self.requested.is_set():
                return
            yield source
