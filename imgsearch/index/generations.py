"""The indices of one installation over time, as `imgsearch reindex` sees them: the one in use, one being built
with the configured models, and the ones it replaced (kept until `--drop-old`).

Names are Elasticsearch index names (`<alias>-v1-<timestamp>`) or embedded data directories (`index-<timestamp>`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageDocument


class ImageListing(Protocol):
    """A read-only view of one index: what re-indexing copies from."""

    def model_id(self) -> str | None: ...

    def image_count(self) -> int: ...

    def documents_after(self, image_id: str | None, limit: int) -> list[ImageDocument]: ...


class IndexGenerations(ABC):
    @abstractmethod
    def in_use(self) -> str | None:
        """The index searches and writes go to now; None before anything was indexed."""

    @abstractmethod
    def listing(self, name: str) -> ImageListing:
        """Read one index without taking it from a process that has it open."""

    @abstractmethod
    def create(self, model_id: str, dim: int) -> str:
        """A new empty index for these models, not in use."""

    @abstractmethod
    def open(self, name: str) -> VectorIndex | None:
        """A handle that writes to this index directly (one being built); None when it is gone."""

    @abstractmethod
    def switch(self, name: str) -> None:
        """Put this index in use, atomically: a search sees the old one or the new one, never neither."""

    @abstractmethod
    def not_in_use(self) -> list[str]:
        """The indices replaced by earlier switches, and any being built."""

    @abstractmethod
    def drop(self, name: str) -> bool:
        """Delete an index not in use; False when a process still has it open (the embedded back end)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections."""
