"""The vector index interface. Two implementations: Elasticsearch (nested kNN) and the embedded default."""

from __future__ import annotations

import math
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
# "This AND that": each part is one more kNN search a query pays for.
MAX_QUERY_PARTS = 4
# Stored and query vectors are L2-normalised (dot product = cosine); float32 rounding stays far inside this.
UNIT_NORM_TOLERANCE = 1e-3


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

    def get_many(self, image_ids: Sequence[str]) -> dict[str, ImageDocument]:
        """The documents of those of the images that are stored."""
        found = {image_id: self.get(image_id) for image_id in dict.fromkeys(image_ids)}
        return {image_id: document for image_id, document in found.items() if document is not None}

    @abstractmethod
    def vectors(self, image_id: str) -> np.ndarray | None:
        """The stored vectors of an image, row i for object i (for "more like this indexed image")."""

    @abstractmethod
    def delete(self, image_id: str) -> bool:
        """Remove an image and all its vectors; False if it was not there."""

    @abstractmethod
    def browse(self, cursor: str | None, limit: int, tags: Sequence[str] = ()) -> BrowsePage:
        """Newest first, a page at a time (only images holding every one of `tags`); `cursor` comes from the
        previous page of the same browse."""

    @abstractmethod
    def set_tags(self, image_id: str, tags: Sequence[str]) -> ImageDocument | None:
        """Replace an image's tags; the updated document, or None if the image is not there."""

    @abstractmethod
    def search(self, query: VectorQuery) -> SearchPage:
        """Top images by their best-matching objects, each image once, with its matched objects."""

    @abstractmethod
    def documents_after(self, image_id: str | None, limit: int) -> list[ImageDocument]:
        """Every image in id order, `limit` at a time, starting after `image_id` (for re-indexing)."""

    @abstractmethod
    def stats(self) -> IndexStats: ...

    @abstractmethod
    def ping(self) -> None:
        """Return when the index can serve searches and writes; raise `BackendUnavailable` saying why not."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections or files."""

    def make_writes_visible(self) -> None:  # noqa: B027 (optional hook)
        """Make every write so far visible to searches and listings (where they are not at once)."""

    def image_count(self) -> int:
        return self.stats().images

    def optimize(self) -> str:
        """Make searches cheaper after a large import; returns one line saying what was done."""
        return "nothing to optimise"

    def dim(self) -> int | None:
        """The vector dimension the index was built with, or None before `ensure` (or when unknown)."""
        return None

    def check_query(self, query: VectorQuery) -> list[np.ndarray]:
        """The query's part vectors as float32, when they come from this index's model stack, have its size and
        unit length (one part, or up to `MAX_QUERY_PARTS` for "this AND that")."""
        if query.model_id != self.model_id():  # the usual search asks nothing more
            self.check_model(query.model_id)
        parts = query.part_vectors
        if len(parts) > MAX_QUERY_PARTS:
            raise InvalidRequest(f"a query combines at most {MAX_QUERY_PARTS} objects, not {len(parts)}")
        own_dim = self.dim()
        checked = []
        for vector in parts:
            if type(vector) is not np.ndarray or vector.dtype != np.float32:  # cold, even a no-op asarray costs µs
                vector = np.asarray(vector, dtype=np.float32)
            if own_dim is not None and vector.shape != (own_dim,):
                raise InvalidRequest(
                    f"the query vector has shape {vector.shape}, the index holds {own_dim}-dim vectors"
                )
            if vector.ndim != 1:
                raise InvalidRequest(f"the query vector has shape {vector.shape}: one vector, not {vector.ndim}-d")
            length = math.sqrt(float(vector.dot(vector)))  # runs on every search: `@` costs twice `dot` cold
            if not abs(length - 1.0) <= UNIT_NORM_TOLERANCE:  # NaN fails too
                raise InvalidRequest(f"the query vector must be L2-normalised (norm {round(length, 3)})")
            checked.append(vector)
        return checked

    def checked_vectors(self, entry: IndexEntry) -> np.ndarray:
        """An entry's vectors as float32: from this model stack, one unit vector of the index's size per object."""
        document = entry.document
        self.check_model(document.model_id)
        vectors = np.asarray(entry.vectors, dtype=np.float32)
        expected = (len(document.objects), self.dim())
        if vectors.ndim != 2 or vectors.shape[0] != expected[0] or expected[1] not in (None, vectors.shape[1]):
            raise InvalidRequest(f"image {document.image_id}: vectors of shape {vectors.shape}, expected {expected}")
        _check_unit_rows(vectors, f"image {document.image_id}: the vectors")
        return vectors

    def check_model(self, model_id: str) -> None:
        """Refuse vectors from a model stack other than the one this index was built with."""
        own = self.model_id()
        if own is not None and own != model_id:
            raise ModelMismatch(model_mismatch_message(own, model_id))

    def check_writable(self, model_id: str) -> None:
        """Refuse a write of `model_id`'s vectors before anything is written: another model's, or an index that
        `imgsearch reindex` has replaced since this process opened it."""
        self.check_model(model_id)


def model_mismatch_message(index_model: str, configured_model: str) -> str:
    return (
        f"the index holds vectors from model {index_model}, the configured models are {configured_model}: "
        "run `imgsearch reindex` to rebuild it with them, or configure the models it was built with"
    )


def _check_unit_rows(vectors: np.ndarray, what: str) -> None:
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))  # half of np.linalg.norm's time
    if not (np.abs(norms - 1.0) <= UNIT_NORM_TOLERANCE).all():  # False for NaN and infinity too
        raise InvalidRequest(f"{what} must be L2-normalised (norms {norms.round(3).tolist()[:8]})")
