"""`EmbeddedIndex`: the `VectorIndex` interface over the SQLite store and the HNSW graph."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imgsearch.errors import BackendUnavailable, IndexReplaced, ModelMismatch, outages_translated
from imgsearch.index.base import VectorIndex
from imgsearch.index.cursor import decode_browse_cursor, encode_browse_cursor
from imgsearch.index.embedded import generations
from imgsearch.index.embedded.graph import Graph, GraphSettings
from imgsearch.index.embedded.graph_file import ANN_FILE, ANN_STATE_FILE
from imgsearch.index.embedded.locks import own_directory
from imgsearch.index.embedded.object_table import ObjectTable
from imgsearch.index.embedded.search import Sources, search_page
from imgsearch.index.embedded.store import DB_FILE, Store
from imgsearch.index.types import (
    BrowsePage,
    ImageDocument,
    IndexEntry,
    IndexStats,
    SearchPage,
    VectorQuery,
    WriteOutcome,
)

EMBEDDED_INDEX = "the embedded index"

# A locked, full, read-only or vanished database or graph file is an outage of the store, not a bug.
_embedded_call = outages_translated(
    (sqlite3.OperationalError, OSError),
    lambda error: BackendUnavailable(EMBEDDED_INDEX, f"{type(error).__name__}: {error}"),
)


class EmbeddedIndex(VectorIndex):
    """No server: images and vectors in SQLite, an HNSW graph (usearch) over all object vectors in memory.

    The graph is searched with a beam (HNSW ef) of `ef_search_default` and returns four objects per image wanted
    (offset + k + 1), doubling while filters leave too few images. `num_candidates` in a query asks for at least
    that many objects, which also widens the beam to it, as Elasticsearch's per-shard candidates do. The graph
    file is saved at most every `save_interval_s` seconds (never taking over a tenth of the time) and on `close`.

    `root`: the folder of the index's data generations (`generations`), when `data_dir` is one of them: writes are
    refused once `imgsearch reindex` has switched that folder to another generation.
    """

    name = "embedded"

    def __init__(
        self,
        data_dir: Path,
        ef_search_default: int = 128,
        connectivity: int = 16,
        expansion_add: int = 128,
        dtype: str = "f16",
        save_interval_s: float = 10.0,
        root: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.root = root
        self.ef_search_default = ef_search_default
        self.connectivity = connectivity
        self.expansion_add = expansion_add
        self.dtype = dtype
        self.save_interval_s = save_interval_s
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = own_directory(data_dir)
        self._store = Store(data_dir)
        if root is not None:
            # Inside the write transaction: a switch (made while holding this file's write lock) is seen by every
            # write that commits after it.
            self._store.write_guard = self._check_not_replaced
        settings = GraphSettings(ef_search_default, connectivity, expansion_add, dtype, save_interval_s)
        self._graph = Graph(data_dir, settings, self._store)
        self._table = ObjectTable()
        for image_id, width, height, objects in self._store.object_facts():
            self._table.add_image(image_id, width, height, objects)
        meta = self._store.meta()
        self._meta = (meta.model_id, meta.dim) if meta else None
        if meta:
            self._graph.recover(meta.dim, meta.generation)
            self._graph.save()

    @_embedded_call
    def ensure(self, model_id: str, dim: int) -> None:
        with self._graph.lock.writing():
            if self._meta is None:
                self._store.insert_meta(model_id, dim)
                self._meta = (model_id, dim)
                self._graph.create(dim)
        self.check_model(model_id)
        if self._meta[1] != dim:
            raise ModelMismatch(
                f"the index holds {self._meta[1]}-dimensional vectors of model {model_id}, not {dim}-dimensional "
                "ones: run `imgsearch reindex` to rebuild it, or configure the models it was built with"
            )
        self._graph.save()

    def model_id(self) -> str | None:
        return self._meta[0] if self._meta else None

    def dim(self) -> int | None:
        return self._meta[1] if self._meta else None

    def check_model(self, model_id: str) -> None:
        try:
            super().check_model(model_id)
        except ModelMismatch:
            self._check_not_replaced()  # re-indexed since this process opened it: the fix is a restart
            raise

    @_embedded_call
    def check_writable(self, model_id: str) -> None:
        self.check_model(model_id)
        self._check_not_replaced()

    def _check_not_replaced(self) -> None:
        if self.root is None:
            return
        in_use = generations.current_dir(self.root)
        if in_use != self.data_dir:
            raise IndexReplaced(
                f"`imgsearch reindex` replaced the index this process opened ({self.data_dir.name}) with "
                f"{in_use.name}: searches still read the old one, writes are refused; restart with the configured "
                "models"
            )

    @_embedded_call
    def ping(self) -> None:
        self._store.image_count()

    @_embedded_call
    def add(self, entries: Sequence[IndexEntry]) -> dict[str, WriteOutcome]:
        if self._meta is None:
            raise RuntimeError("call ensure(model_id, dim) before adding images")
        vectors_by_entry = [self.checked_vectors(entry) for entry in entries]
        with self._graph.lock.writing():
            generation = self._graph.generation + 1
            added = self._store.add_images(entries, vectors_by_entry, generation)
            if WriteOutcome.CREATED in added.outcomes.values():
                self._graph.add(generation, added.keys, added.vectors)
            for document, keys in added.created:
                self._table.add_image(document.image_id, document.width, document.height,
                                      zip(keys, document.objects, strict=True))  # fmt: skip
        self._graph.save_if_due()
        return added.outcomes

    @_embedded_call
    def get(self, image_id: str) -> ImageDocument | None:
        return self._store.get(image_id)

    @_embedded_call
    def get_many(self, image_ids: Sequence[str]) -> dict[str, ImageDocument]:
        return self._store.get_many(image_ids)

    @_embedded_call
    def vectors(self, image_id: str) -> np.ndarray | None:
        if self._meta is None:
            return None
        vectors = self._store.vectors(image_id)
        if vectors is None:
            return None
        return np.stack(vectors) if vectors else np.empty((0, self._meta[1]), dtype=np.float32)

    @_embedded_call
    def delete(self, image_id: str) -> bool:
        with self._graph.lock.writing():
            generation = self._graph.generation + 1
            keys = self._store.delete_image(image_id, generation)
            if keys is None:
                return False
            self._graph.remove(generation, keys)
            self._table.remove_image(image_id, keys)
        self._graph.save_if_due()
        return True

    @_embedded_call
    def set_tags(self, image_id: str, tags: Sequence[str]) -> ImageDocument | None:
        if not self._store.set_tags(image_id, tags):
            return None
        return self._store.get(image_id)

    @_embedded_call
    def browse(self, cursor: str | None, limit: int, tags: Sequence[str] = ()) -> BrowsePage:
        if limit <= 0:
            return BrowsePage([], None)
        after = decode_browse_cursor(cursor, self.name) if cursor else (2**63 - 1, "")
        documents, last = self._store.newest(after, limit, tags)
        return BrowsePage(documents, encode_browse_cursor(self.name, *last) if last is not None else None)

    @_embedded_call
    def search(self, query: VectorQuery) -> SearchPage:
        part_vectors = self.check_query(query)
        with self._graph.lock.reading():  # no write commits in between: the page's images are all still there
            ann = self._graph.ann
            size = len(ann) if ann is not None else 0
            if size == 0:
                return SearchPage([], None)
            return search_page(Sources(ann, size, self._table, self._store), query, part_vectors)

    @_embedded_call
    def documents_after(self, image_id: str | None, limit: int) -> list[ImageDocument]:
        return self._store.documents_after(image_id, limit)

    @_embedded_call
    def stats(self) -> IndexStats:
        images = self._store.image_count()
        labels = self._store.object_label_counts()
        files = [DB_FILE, DB_FILE + "-wal", ANN_FILE, ANN_STATE_FILE]
        size_bytes = sum((self.data_dir / name).stat().st_size for name in files if (self.data_dir / name).exists())
        return IndexStats(
            images=images,
            objects=sum(labels.values()),
            labels=labels,
            size_bytes=size_bytes,
            model_id=self.model_id(),
            dim=self._meta[1] if self._meta else None,
        )

    def optimize(self) -> str:
        return "the embedded index keeps one graph: nothing to merge"

    def close(self) -> None:
        """Save the graph so the next open needs no replay, then release SQLite and the directory."""
        if self._lock_file.closed:
            return
        self._graph.save()
        self._store.close()
        self._lock_file.close()
