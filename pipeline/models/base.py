"""A small base class for models: `load` once, `predict` many times, and a description for the model id."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


class Model(ABC, Generic[InputT, OutputT]):
    """Subclasses fill in `_load`, `_predict` and `describe`; callers use `load` and `predict`."""

    def __init__(self) -> None:
        self._loaded = False
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Load weights once per process, even when several threads ask at the same time."""
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def predict(self, inputs: InputT) -> OutputT:
        self.load()
        return self._predict(inputs)

    @property
    def loaded(self) -> bool:
        return self._loaded

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _predict(self, inputs: InputT) -> OutputT: ...

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Everything that changes this model's outputs (name, weight hash, preprocessing): feeds the model id."""
