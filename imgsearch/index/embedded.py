"""The embedded back end: SQLite is the source of truth, a usearch HNSW graph over object vectors answers kNN.

Every write commits one SQLite transaction before the graph is touched; a JSON file beside the graph file names
the SQLite generation it reflects, with its checksum. On open, a missing, corrupt or newer graph file is rebuilt
from SQLite and an older one is brought forward by replaying the objects added and the keys removed since, so a
process killed at any moment comes back with exactly the committed data. Search follows the Elasticsearch back
end's nested kNN: object vectors compete, each image appears once, ranked by its best object, with its matches.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
from usearch.index import Index

from imgsearch.errors import InvalidRequest, ModelMismatch, StorageUnavailable
from imgsearch.index.base import VectorIndex
from imgsearch.index.cursor import decode_cursor, encode_cursor
from imgsearch.index.types import (
    BrowsePage,
    ImageDocument,
    ImageHit,
    IndexEntry,
    IndexStats,
    Match,
    SearchPage,
    StoredObject,
    VectorQuery,
    WriteOutcome,
)
from pipeline.records import Box, ObjectKind

DB_FILE = "index.sqlite3"
LOCK_FILE = "index.lock"
ANN_FILE = "objects.usearch"
ANN_STATE_FILE = "objects.usearch.json"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    model_id TEXT NOT NULL, dim INTEGER NOT NULL, generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL, content_type TEXT NOT NULL,
    byte_size INTEGER NOT NULL, model_id TEXT NOT NULL, source TEXT NOT NULL, created_at TEXT NOT NULL,
    created_at_us INTEGER NOT NULL, tags TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS images_newest ON images (created_at_us DESC, id DESC);
CREATE TABLE IF NOT EXISTS objects (
    key INTEGER PRIMARY KEY AUTOINCREMENT, image_id TEXT NOT NULL REFERENCES images (id), idx INTEGER NOT NULL,
    kind TEXT NOT NULL, label TEXT NOT NULL, score REAL NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    generation INTEGER NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS objects_by_image ON objects (image_id, idx);
CREATE INDEX IF NOT EXISTS objects_by_generation ON objects (generation);
CREATE INDEX IF NOT EXISTS objects_by_label ON objects (kind, label);
CREATE TABLE IF NOT EXISTS removed_keys (key INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
"""
OBJECT_COLUMNS = "key, image_id, idx, kind, label, score, x1, y1, x2, y2"
IMAGE_COLUMNS = "id, width, height, content_type, byte_size, model_id, source, created_at, tags"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Each image brings several objects and filters drop some, so ask the graph for more objects than images wanted.
CANDIDATES_PER_IMAGE = 4
# A scan reads vectors in order while the graph walk jumps around visiting ~2*M per candidate: scan a small index.
EXACT_SCAN_FACTOR = 8
UNIT_NORM_TOLERANCE = 1e-3
REBUILD_CHUNK_ROWS = 50_000


class _ReadWriteLock:
    """Searches share the graph; a write has it alone (usearch may reallocate its storage while adding)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writers_waiting = 0
        self._writer_active = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writer_active and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not self._writer_active and not self._readers)
            self._writers_waiting -= 1
            self._writer_active = True
        try:
            yield
        finally:
            with self._condition:
                self._writer_active = False
                self._condition.notify_all()


class _Candidate(NamedTuple):
    """An object that passed the filters; turned into a `Match` only if its image makes the page."""

    similarity: float
    image_id: str
    row: sqlite3.Row


_Filter = Callable[[sqlite3.Row, float], bool]


def _epoch_us(moment: datetime) -> int:
    """Sort key for browsing; a naive time counts as UTC, as Elasticsearch reads it."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(microseconds=1)


def _stored_object(row: sqlite3.Row) -> StoredObject:
    box = Box(row["x1"], row["y1"], row["x2"], row["y2"])
    return StoredObject(row["idx"], ObjectKind(row["kind"]), row["label"], row["score"], box)


def _filter(query: VectorQuery) -> _Filter:
    """The query's filters on one candidate object (Elasticsearch applies the same ones inside nested kNN)."""
    kinds = {kind.value for kind in query.kinds}
    labels = set(query.labels)
    excluded = set(query.exclude_ids)
    floor = query.min_similarity if query.min_similarity is not None else -np.inf

    def passes(row: sqlite3.Row, similarity: float) -> bool:
        if row["kind"] not in kinds or (labels and row["label"] not in labels):
            return False
        return row["image_id"] not in excluded and similarity >= floor

    return passes


def _match(candidate: _Candidate) -> Match:
    obj = _stored_object(candidate.row)
    return Match(obj.index, obj.kind, obj.label, obj.box, candidate.similarity)


def _crc32(path: Path) -> int:
    crc = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _fsync_and_replace(temporary: Path, path: Path) -> None:
    """Make `temporary` durable and rename it over `path`: readers see the old file or the new one, never a mix."""
    with temporary.open("rb") as file:
        os.fsync(file.fileno())
    temporary.replace(path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class EmbeddedIndex(VectorIndex):
    """No server: images and vectors in SQLite, an HNSW graph (usearch) over all object vectors in memory.

    The graph is searched with a beam (HNSW ef) of `ef_search_default` and returns four objects per image wanted
    (offset + k + 1), doubling while filters leave too few images. `num_candidates` in a query asks for at least
    that many objects, which also widens the beam to it, as Elasticsearch's per-shard candidates do. The graph
    file is saved at most every `save_interval_s` seconds (never taking over a tenth of the time) and on `close`.
    """

    def __init__(
        self,
        data_dir: Path,
        ef_search_default: int = 128,
        connectivity: int = 16,
        expansion_add: int = 128,
        dtype: str = "f16",
        save_interval_s: float = 10.0,
    ) -> None:
        self.data_dir = data_dir
        self.ef_search_default = ef_search_default
        self.connectivity = connectivity
        self.expansion_add = expansion_add
        self.dtype = dtype
        self.save_interval_s = save_interval_s
        data_dir.mkdir(parents=True, exist_ok=True)
        # Two processes would each hold a graph missing the other's writes: one owner at a time.
        self._lock_file = (data_dir / LOCK_FILE).open("a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._lock_file.close()
            raise StorageUnavailable(f"the index in {data_dir} is open elsewhere: close that first") from error
        self._rw = _ReadWriteLock()
        self._db_lock = threading.RLock()
        self._save_lock = threading.Lock()
        # WAL with synchronous=NORMAL: a killed process loses nothing; a power cut may drop the last commits but
        # never corrupts, and a graph file left ahead of SQLite by it is rebuilt on open (generation check).
        self._db = sqlite3.connect(data_dir / DB_FILE, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._ann: Index | None = None
        self._generation = 0
        self._saved_generation = 0
        self._last_save_at = time.monotonic()
        self._last_save_s = 0.0
        meta = self._rows("SELECT model_id, dim, generation FROM meta")
        self._meta = (meta[0]["model_id"], meta[0]["dim"]) if meta else None
        if meta:
            self._generation = meta[0]["generation"]
            self._ann = self._recovered_ann(meta[0]["dim"])
            self._save_ann()

    # --- SQLite -------------------------------------------------------------------------------------------------

    def _rows(self, sql: str, parameters: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._db_lock:
            return self._db.execute(sql, parameters).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _vector_chunks(self, min_generation: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(keys, vectors) of objects added after `min_generation`, a bounded number of rows at a time."""
        with self._db_lock:
            cursor = self._db.execute("SELECT key, vector FROM objects WHERE generation > ?", (min_generation,))
            while rows := cursor.fetchmany(REBUILD_CHUNK_ROWS):
                keys = np.array([row["key"] for row in rows], dtype=np.uint64)
                yield keys, np.stack([np.frombuffer(row["vector"], dtype=np.float32) for row in rows])

    # --- the graph and its file ---------------------------------------------------------------------------------

    def _new_ann(self, dim: int) -> Index:
        return Index(
            ndim=dim,
            metric="ip",
            dtype=self.dtype,
            connectivity=self.connectivity,
            expansion_add=self.expansion_add,
            expansion_search=self.ef_search_default,
        )

    def _saved_ann(self, dim: int) -> tuple[Index, int] | None:
        """The graph file and the generation it reflects, or None if it is missing, corrupt or built otherwise."""
        path = self.data_dir / ANN_FILE
        try:
            state = json.loads((self.data_dir / ANN_STATE_FILE).read_text())
            if (state["dim"], state["dtype"], state["connectivity"]) != (dim, self.dtype, self.connectivity):
                return None
            # usearch loads some damaged files without complaint, so the checksum is ours.
            if path.stat().st_size != state["size"] or _crc32(path) != state["crc32"]:
                return None
            ann = Index.restore(path)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return None
        if ann is None or ann.ndim != dim:
            return None
        ann.expansion_add = self.expansion_add
        ann.expansion_search = self.ef_search_default  # not kept in the file
        return ann, int(state["generation"])

    def _recovered_ann(self, dim: int) -> Index:
        saved = self._saved_ann(dim)
        if saved is not None and saved[1] <= self._generation:
            ann, self._saved_generation = saved
            removed = self._rows("SELECT key FROM removed_keys WHERE generation > ?", (self._saved_generation,))
            present = [row["key"] for row in removed if row["key"] in ann]
            if present:
                ann.remove(present)
            for keys, vectors in self._vector_chunks(self._saved_generation):
                missing = ~np.asarray(ann.contains(keys), dtype=bool)
                if missing.any():
                    ann.add(keys[missing], vectors[missing], threads=os.cpu_count() or 1)
            if len(ann) == self._rows("SELECT COUNT(*) AS n FROM objects")[0]["n"]:
                return ann
        self._saved_generation = -1
        return self._rebuilt_ann(dim)

    def _rebuilt_ann(self, dim: int) -> Index:
        ann = self._new_ann(dim)
        for keys, vectors in self._vector_chunks(-1):
            ann.add(keys, vectors, threads=os.cpu_count() or 1)
        return ann

    def _save_ann(self) -> None:
        with self._save_lock:
            graph_path = self.data_dir / ANN_FILE
            graph_temporary = graph_path.with_name(graph_path.name + ".tmp")
            with self._rw.reading():  # writes wait while usearch serialises; searches go on
                ann, generation = self._ann, self._generation
                if ann is None or generation == self._saved_generation:
                    return
                started = time.monotonic()
                ann.save(graph_temporary)
            # A crash between the two renames leaves a checksum that fails: the next open rebuilds.
            _fsync_and_replace(graph_temporary, graph_path)
            state = {"generation": generation, "dim": ann.ndim, "dtype": self.dtype, "connectivity": self.connectivity}
            state |= {"size": graph_path.stat().st_size, "crc32": _crc32(graph_path)}
            state_path = self.data_dir / ANN_STATE_FILE
            state_temporary = state_path.with_name(state_path.name + ".tmp")
            state_temporary.write_text(json.dumps(state))
            _fsync_and_replace(state_temporary, state_path)
            with self._transaction() as db:
                db.execute("DELETE FROM removed_keys WHERE generation <= ?", (generation,))
            self._saved_generation = generation
            self._last_save_at = time.monotonic()
            self._last_save_s = self._last_save_at - started

    def _save_if_due(self) -> None:
        # Saving rewrites the whole file: bound it to a tenth of the time however large the index grows.
        wait_s = max(self.save_interval_s, 10 * self._last_save_s)
        if time.monotonic() - self._last_save_at >= wait_s:
            self._save_ann()

    def _apply_to_ann(self, change: Callable[[Index], object]) -> None:
        """Called with the write lock held, after the commit: the commit stands whatever happens here."""
        assert self._ann is not None and self._meta is not None
        try:
            change(self._ann)
        except (RuntimeError, MemoryError):
            self._ann = self._rebuilt_ann(self._meta[1])

    # --- the interface ------------------------------------------------------------------------------------------

    def ensure(self, model_id: str, dim: int) -> None:
        with self._rw.writing():
            if self._meta is None:
                with self._transaction() as db:
                    db.execute("INSERT INTO meta (singleton, model_id, dim, generation) VALUES (1, ?, ?, 0)",
                               (model_id, dim))  # fmt: skip
                self._meta, self._generation, self._ann = (model_id, dim), 0, self._new_ann(dim)
                self._saved_generation = -1
        self.check_model(model_id)
        if self._meta[1] != dim:
            raise ModelMismatch(
                f"the index holds {self._meta[1]}-dimensional vectors of model {model_id}, not {dim}-dimensional "
                "ones: re-index with the current models or configure the ones the index was built with"
            )
        self._save_ann()

    def model_id(self) -> str | None:
        return self._meta[0] if self._meta else None

    def _validated_vectors(self, entry: IndexEntry) -> np.ndarray:
        assert self._meta is not None
        document = entry.document
        self.check_model(document.model_id)
        vectors = np.asarray(entry.vectors, dtype=np.float32)
        expected = (len(document.objects), self._meta[1])
        if vectors.shape != expected:
            raise ValueError(f"image {document.image_id}: vectors of shape {vectors.shape}, expected {expected}")
        norms = np.linalg.norm(vectors, axis=1)
        if not np.all(np.abs(norms - 1.0) <= UNIT_NORM_TOLERANCE):
            raise ValueError(f"image {document.image_id}: vectors must be L2-normalised (norms {norms.round(3)})")
        return vectors

    def add(self, entries: Sequence[IndexEntry]) -> dict[str, WriteOutcome]:
        if self._meta is None:
            raise RuntimeError("call ensure(model_id, dim) before adding images")
        vectors_by_entry = [self._validated_vectors(entry) for entry in entries]
        outcomes: dict[str, WriteOutcome] = {}
        new_keys: list[int] = []
        new_vectors: list[np.ndarray] = []
        with self._rw.writing():
            generation = self._generation + 1
            with self._transaction() as db:
                for entry, vectors in zip(entries, vectors_by_entry, strict=True):
                    document = entry.document
                    if document.image_id in outcomes:  # repeated within this call: the first one reports
                        continue
                    if db.execute("SELECT 1 FROM images WHERE id = ?", (document.image_id,)).fetchone():
                        outcomes[document.image_id] = WriteOutcome.DUPLICATE
                        continue
                    db.execute(
                        "INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (document.image_id, document.width, document.height, document.content_type,
                         document.byte_size, document.model_id, document.source, document.created_at.isoformat(),
                         _epoch_us(document.created_at), json.dumps(list(document.tags))),
                    )  # fmt: skip
                    for obj, vector in zip(document.objects, vectors, strict=True):
                        inserted = db.execute(
                            f"INSERT INTO objects ({OBJECT_COLUMNS}, generation, vector) "
                            "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (document.image_id, obj.index, obj.kind.value, obj.label, obj.score, *obj.box.as_list(),
                             generation, vector.tobytes()),
                        )  # fmt: skip
                        new_keys.append(int(inserted.lastrowid or 0))
                        new_vectors.append(vector)
                    outcomes[document.image_id] = WriteOutcome.CREATED
                if WriteOutcome.CREATED in outcomes.values():
                    db.execute("UPDATE meta SET generation = ?", (generation,))
            if WriteOutcome.CREATED in outcomes.values():
                self._generation = generation
                if new_keys:
                    keys = np.array(new_keys, dtype=np.uint64)
                    self._apply_to_ann(lambda ann: ann.add(keys, np.stack(new_vectors), threads=os.cpu_count() or 1))
        self._save_if_due()
        return outcomes

    def get(self, image_id: str) -> ImageDocument | None:
        with self._db_lock:  # image and objects from one snapshot: writes hold this lock for their transaction
            documents = self._documents(self._rows(f"SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)))
        return documents[0] if documents else None

    def _documents(self, image_rows: list[sqlite3.Row]) -> list[ImageDocument]:
        ids = [row["id"] for row in image_rows]
        objects_by_image: dict[str, list[StoredObject]] = {image_id: [] for image_id in ids}
        object_rows = self._rows(
            f"SELECT {OBJECT_COLUMNS} FROM objects WHERE image_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY image_id, idx",
            (json.dumps(ids),),
        )
        for row in object_rows:
            objects_by_image[row["image_id"]].append(_stored_object(row))
        return [
            ImageDocument(
                image_id=row["id"],
                width=row["width"],
                height=row["height"],
                content_type=row["content_type"],
                byte_size=row["byte_size"],
                model_id=row["model_id"],
                source=row["source"],
                created_at=datetime.fromisoformat(row["created_at"]),
                tags=tuple(json.loads(row["tags"])),
                objects=tuple(objects_by_image[row["id"]]),
            )
            for row in image_rows
        ]

    def vectors(self, image_id: str) -> np.ndarray | None:
        with self._db_lock:
            if self._meta is None or not self._rows("SELECT 1 FROM images WHERE id = ?", (image_id,)):
                return None
            rows = self._rows("SELECT vector FROM objects WHERE image_id = ? ORDER BY idx", (image_id,))
        vectors = [np.frombuffer(row["vector"], dtype=np.float32) for row in rows]
        return np.stack(vectors) if vectors else np.empty((0, self._meta[1]), dtype=np.float32)

    def delete(self, image_id: str) -> bool:
        with self._rw.writing():
            generation = self._generation + 1
            with self._transaction() as db:
                if not db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                    return False
                keys = [row["key"] for row in db.execute("SELECT key FROM objects WHERE image_id = ?", (image_id,))]
                db.execute("DELETE FROM objects WHERE image_id = ?", (image_id,))
                db.execute("DELETE FROM images WHERE id = ?", (image_id,))
                db.executemany("INSERT INTO removed_keys VALUES (?, ?)", [(key, generation) for key in keys])
                db.execute("UPDATE meta SET generation = ?", (generation,))
            self._generation = generation
            if keys:
                self._apply_to_ann(lambda ann: ann.remove(keys))
        self._save_if_due()
        return True

    def browse(self, cursor: str | None, limit: int) -> BrowsePage:
        if limit <= 0:
            return BrowsePage([], None)
        after = (2**63 - 1, "")
        if cursor:
            position = decode_cursor(cursor)
            if not (isinstance(position, list) and len(position) == 2 and isinstance(position[0], int)):
                raise InvalidRequest("the cursor is not one this server handed out")
            after = (position[0], str(position[1]))
        with self._db_lock:
            rows = self._rows(
                f"SELECT {IMAGE_COLUMNS}, created_at_us FROM images WHERE (created_at_us, id) < (?, ?) "
                "ORDER BY created_at_us DESC, id DESC LIMIT ?",
                (*after, limit + 1),
            )
            documents = self._documents(rows[:limit])
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = encode_cursor([last["created_at_us"], last["id"]]) if last is not None else None
        return BrowsePage(documents, next_cursor)

    def search(self, query: VectorQuery) -> SearchPage:
        self.check_model(query.model_id)
        query_vector = np.asarray(query.vector, dtype=np.float32)
        if self._meta is not None and query_vector.shape != (self._meta[1],):
            raise ValueError(f"the query vector has shape {query_vector.shape}, the index holds dim {self._meta[1]}")
        wanted_images = query.offset + query.k + 1  # one extra says whether another page exists
        with self._rw.reading():  # no write commits in between: the page's images are all still there
            if self._ann is None or len(self._ann) == 0:
                return SearchPage([], None)
            return self._page(query, self._ranked_candidates(query, query_vector, wanted_images))

    def _page(self, query: VectorQuery, ranked: list[_Candidate]) -> SearchPage:
        by_image: dict[str, list[_Candidate]] = {}
        for candidate in ranked:  # best first, so an image's first candidate is its best match
            by_image.setdefault(candidate.image_id, []).append(candidate)
        image_ids = sorted(by_image, key=lambda image_id: (-by_image[image_id][0].similarity, image_id))
        page_ids = image_ids[query.offset : query.offset + query.k]
        sizes = {
            row["id"]: (row["width"], row["height"])
            for row in self._rows(
                "SELECT id, width, height FROM images WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(page_ids),),
            )
        }
        hits = [
            ImageHit(image_id, by_image[image_id][0].similarity, *sizes[image_id],
                     tuple(_match(candidate) for candidate in by_image[image_id][: query.matches_per_image]))
            for image_id in page_ids
        ]  # fmt: skip
        more = len(image_ids) > query.offset + query.k
        return SearchPage(hits, query.offset + query.k if more else None)

    def _ranked_candidates(self, query: VectorQuery, query_vector: np.ndarray, wanted_images: int) -> list[_Candidate]:
        """Objects passing the filters, best first; widened until enough distinct images or nothing is left."""
        count = max(query.num_candidates or 0, wanted_images * CANDIDATES_PER_IMAGE)
        passes = _filter(query)
        while True:
            keys, similarities, complete = self._nearest(query, query_vector, count)
            similarity_list = np.clip(similarities.astype(np.float64), -1.0, 1.0).tolist()
            ranked = self._passing(keys.tolist(), similarity_list, passes)
            floor = query.min_similarity
            below_floor = floor is not None and bool(similarity_list) and similarity_list[-1] < floor
            if complete or below_floor or len({candidate.image_id for candidate in ranked}) >= wanted_images:
                ranked.sort(key=lambda candidate: (-candidate.similarity, candidate.image_id, candidate.row["idx"]))
                return ranked
            count *= 2

    def _nearest(self, query: VectorQuery, query_vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """Keys and similarities, best first, and whether they include every object that could pass the filters."""
        assert self._ann is not None
        scan_limit = count * EXACT_SCAN_FACTOR
        if query.labels:
            # A rare label would make the graph walk widen many times: score its few objects directly instead.
            rows = self._rows(
                "SELECT key FROM objects WHERE kind IN (SELECT value FROM json_each(?)) "
                "AND label IN (SELECT value FROM json_each(?)) LIMIT ?",
                (json.dumps([kind.value for kind in query.kinds]), json.dumps(list(query.labels)), scan_limit + 1),
            )
            if len(rows) <= scan_limit:
                keys = np.array([row["key"] for row in rows], dtype=np.uint64)
                stored = np.stack(self._ann.get(keys, dtype="f32")) if rows else np.empty((0, len(query_vector)))
                similarities = stored @ query_vector
                order = np.argsort(-similarities, kind="stable")
                return keys[order], similarities[order], True
        size = len(self._ann)
        exhaustive = scan_limit >= size
        # usearch's beam is max(expansion_search, count): ef_search_default is the floor, num_candidates widens it.
        found = self._ann.search(query_vector, size if exhaustive else count, exact=exhaustive, threads=1)
        return found.keys, 1.0 - found.distances, exhaustive

    def _passing(self, keys: list[int], similarities: list[float], passes: _Filter) -> list[_Candidate]:
        rows = self._rows(
            f"SELECT {OBJECT_COLUMNS} FROM objects WHERE key IN (SELECT value FROM json_each(?))", (json.dumps(keys),)
        )
        row_by_key = {row["key"]: row for row in rows}
        passing = []
        for key, similarity in zip(keys, similarities, strict=True):
            row = row_by_key.get(key)
            if row is not None and passes(row, similarity):
                passing.append(_Candidate(similarity, row["image_id"], row))
        return passing

    def stats(self) -> IndexStats:
        images = self._rows("SELECT COUNT(*) AS n FROM images")[0]["n"]
        label_rows = self._rows("SELECT label, COUNT(*) AS n FROM objects WHERE kind = ? GROUP BY label",
                                (ObjectKind.OBJECT.value,))  # fmt: skip
        files = [DB_FILE, DB_FILE + "-wal", ANN_FILE, ANN_STATE_FILE]
        size_bytes = sum((self.data_dir / name).stat().st_size for name in files if (self.data_dir / name).exists())
        return IndexStats(
            images=images,
            objects=sum(row["n"] for row in label_rows),
            labels={row["label"]: row["n"] for row in label_rows},
            size_bytes=size_bytes,
            model_id=self.model_id(),
            dim=self._meta[1] if self._meta else None,
        )

    def close(self) -> None:
        """Save the graph so the next open needs no replay, then release SQLite and the directory."""
        if self._lock_file.closed:
            return
        self._save_ann()
        with self._db_lock:
            self._db.close()
        self._lock_file.close()
