"""The usearch HNSW graph over object vectors: recovered on open, changed after each commit, saved now and then."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index

from imgsearch.index.embedded import graph_file
from imgsearch.index.embedded.locks import ReadWriteLock
from imgsearch.index.embedded.store import Store


@dataclass(frozen=True)
class GraphSettings:
    ef_search_default: int
    connectivity: int
    expansion_add: int
    dtype: str
    save_interval_s: float


class Graph:
    """The graph in memory (None before the index has a model), the SQLite generation it reflects, and its lock.

    Writers hold `lock.writing()` from their SQLite commit through `add` or `remove`; searches hold `lock.reading()`.
    """

    def __init__(self, data_dir: Path, settings: GraphSettings, store: Store) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.lock = ReadWriteLock()
        self.ann: Index | None = None
        self.generation = 0
        self._store = store
        self._save_lock = threading.Lock()
        self._saved_generation = 0
        self._last_save_at = time.monotonic()
        self._last_save_s = 0.0

    def create(self, dim: int) -> None:
        """An empty graph for a new index, not yet saved."""
        self.generation, self.ann = 0, self._new_ann(dim)
        self._saved_generation = -1

    def recover(self, dim: int, generation: int) -> None:
        """The graph for SQLite at `generation`: the saved file brought forward, or rebuilt if that cannot be."""
        self.generation = generation
        self.ann = self._recovered_ann(dim)

    def _new_ann(self, dim: int) -> Index:
        return Index(
            ndim=dim,
            metric="ip",
            dtype=self.settings.dtype,
            connectivity=self.settings.connectivity,
            expansion_add=self.settings.expansion_add,
            expansion_search=self.settings.ef_search_default,
        )

    def _saved_ann(self, dim: int) -> tuple[Index, int] | None:
        saved = graph_file.restore(self.data_dir, dim, self.settings.dtype, self.settings.connectivity)
        if saved is None:
            return None
        ann, generation = saved
        ann.expansion_add = self.settings.expansion_add
        ann.expansion_search = self.settings.ef_search_default  # not kept in the file
        return ann, generation

    def _recovered_ann(self, dim: int) -> Index:
        saved = self._saved_ann(dim)
        if saved is not None and saved[1] <= self.generation:
            ann, self._saved_generation = saved
            present = [key for key in self._store.removed_keys_since(self._saved_generation) if key in ann]
            if present:
                ann.remove(present)
            for keys, vectors in self._store.vector_chunks(self._saved_generation):
                missing = ~np.asarray(ann.contains(keys), dtype=bool)
                if missing.any():
                    ann.add(keys[missing], vectors[missing], threads=os.cpu_count() or 1)
            if len(ann) == self._store.object_count():
                return ann
        self._saved_generation = -1
        return self._rebuilt_ann(dim)

    def _rebuilt_ann(self, dim: int) -> Index:
        ann = self._new_ann(dim)
        for keys, vectors in self._store.vector_chunks(-1):
            ann.add(keys, vectors, threads=os.cpu_count() or 1)
        return ann

    def add(self, generation: int, keys: list[int], vectors: list[np.ndarray]) -> None:
        """The objects SQLite committed in `generation`; called with the write lock held."""
        self.generation = generation
        if keys:
            key_array = np.array(keys, dtype=np.uint64)
            self._apply(lambda ann: ann.add(key_array, np.stack(vectors), threads=os.cpu_count() or 1))

    def remove(self, generation: int, keys: list[int]) -> None:
        """The objects SQLite deleted in `generation`; called with the write lock held."""
        self.generation = generation
        if keys:
            self._apply(lambda ann: ann.remove(keys))

    def _apply(self, change: Callable[[Index], object]) -> None:
        """Called with the write lock held, after the commit: the commit stands whatever happens here."""
        assert self.ann is not None
        try:
            change(self.ann)
        except (RuntimeError, MemoryError):
            self.ann = self._rebuilt_ann(self.ann.ndim)

    def save(self) -> None:
        with self._save_lock:
            temporary = graph_file.temporary_path(self.data_dir)
            with self.lock.reading():  # writes wait while usearch serialises; searches go on
                ann, generation = self.ann, self.generation
                if ann is None or generation == self._saved_generation:
                    return
                started = time.monotonic()
                ann.save(temporary)
            state = {
                "generation": generation,
                "dim": ann.ndim,
                "dtype": self.settings.dtype,
                "connectivity": self.settings.connectivity,
            }
            graph_file.publish(self.data_dir, temporary, state)
            self._store.forget_removed_keys(generation)
            self._saved_generation = generation
            self._last_save_at = time.monotonic()
            self._last_save_s = self._last_save_at - started

    def save_if_due(self) -> None:
        # Saving rewrites the whole file: bound it to a tenth of the time however large the index grows.
        wait_s = max(self.settings.save_interval_s, 10 * self._last_save_s)
        if time.monotonic() - self._last_save_at >= wait_s:
            self.save()
