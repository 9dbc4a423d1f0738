"""The vector index interface. Two implementations: Elasticsearch (nested kNN) and the embedded default."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from imgsearch.errors import InvalidRequest, ModelMismatch
from imgsearch.index.types import (
    BrowsePage,
    ImageDocument,
    IndexEntry,
    IndexStats,
    SearchPage,
    VectorQuery,
    WriteOutcome,
)

MAX_PAGE = 100


class VectorIndex(ABC):
    """One document per image, its objects nested, each with a unit vector; search returns whole images.

    Every failure to reach the store is `imgsearch.errors.BackendUnavailable`, naming the store.
    """

    name: str = "index"

    @abstractmethod
    def ensure(self, model_id: str, dim: int) -> None:
        """Create the index for this model if none exists; raise `ModelMismatch` if it holds another model's."""

    @abstractmethod
    def model_id(self) -> str | None:
        """The model id the index was built with, or None before `ensure`."""

    @abstractmethod
    def add(self, entries: Sequence[IndexEntry]) -> dict[str, WriteOutcome]:
        """Store new images; an id already present is reported as a duplicate and left as it was."""

    @abstractmethod
    def get(self, image_id: str) -> ImageDocument | None: ...

    @abstractmethod
    def vectors(self, image_id: str) -> np.ndarray | None:
        """The stored vectors of an image, row i for object i (for "more like this indexed image")."""

    @abstractmethod
    def delete(self, image_id: str) -> bool:
        """Remove an image and all its vectors; False if it was not there."""

    @abstractmethod
    def browse(self, cursor: str | None, limit: int) -> BrowsePage:
        """Newest first, a page at a time; `cursor` comes from the previous page."""

    @abstractmethod
    def search(self, query: VectorQuery) -> SearchPage:
        """Top images by their best-matching objects, each image once, with its matched objects."""

    @abstractmethod
    def stats(self) -> IndexStats: ...

    @abstractmethod
    def ping(self) -> None:
        """Return when the index can serve searches and writes; raise `BackendUnavailable` saying why not."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections or files."""

    def optimize(self) -> str:
        """Make searches cheaper after a large import; returns one line saying what was done."""
        return "nothing to optimise"

    def dim(self) -> int | None:
        """The vector dimension the index was built with, or None before `ensure` (or when unknown)."""
        return None

    def check_query(self, query: VectorQuery) -> None:
        """A query must come from this index's model stack and have its vector size."""
        self.check_model(query.model_id)
        own_dim = self.dim()
        if own_dim is not None and np.asarray(query.vector).shape != (own_dim,):
            raise InvalidRequest(f"the query vector has shape {np.shape(query.vector)}, the index holds {own_dim}-dim")

    def check_model(self, model_id: str) -> None:
        """Refuse vectors from a model stack other than the one this index was built with."""
        own = self.model_id()
        if own is not None and own != model_id:
            raise ModelMismatch(
                f"the index holds vectors from model {own}, the query comes from model {model_id}: "
                "re-index with the current models or configure the ones the index was built with"
            )
