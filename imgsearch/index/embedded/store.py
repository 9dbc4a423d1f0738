"""SQLite, the source of truth: every read and write of images, objects and the generation they were written in."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

from imgsearch.index.embedded.schema import (
    IMAGE_COLUMNS,
    OBJECT_COLUMNS,
    SCHEMA,
    image_document,
    image_values,
    object_values,
    row_vector,
    stored_object,
)
from imgsearch.index.types import ImageDocument, ImageObject, IndexEntry, WriteOutcome
from pipeline.records import ObjectKind

DB_FILE = "index.sqlite3"
REBUILD_CHUNK_ROWS = 50_000


class Meta(NamedTuple):
    model_id: str
    dim: int
    generation: int


class AddedImages(NamedTuple):
    """What one `add_images` wrote: each image's outcome, the new objects' keys and vectors for the graph, and each
    new image with its objects' keys."""

    outcomes: dict[str, WriteOutcome]
    keys: list[int]
    vectors: list[np.ndarray]
    created: list[tuple[ImageDocument, list[int]]]


# An image row holds every tag of a JSON list bound in its place (an empty list: any image).
_HOLDS_EVERY_TAG = (
    "NOT EXISTS (SELECT 1 FROM json_each(?) AS wanted WHERE wanted.value NOT IN "
    "(SELECT value FROM json_each(images.tags)))"
)


class Store:
    """One SQLite connection, shared by all threads; each write is one transaction."""

    def __init__(self, data_dir: Path, read_only: bool = False) -> None:
        """`read_only`: a reader beside the process that owns the directory (WAL lets it read while that writes)."""
        self._lock = threading.RLock()
        # Called inside every write transaction, after SQLite's write lock is taken: may refuse the write.
        self.write_guard: Callable[[], None] | None = None
        database = data_dir / DB_FILE
        if read_only:
            if not database.is_file():
                raise FileNotFoundError(f"no embedded index in {data_dir}")
            self._db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                       isolation_level=None)  # fmt: skip
            self._db.row_factory = sqlite3.Row
            return
        # WAL with synchronous=NORMAL: a killed process loses nothing; a power cut may drop the last commits but
        # never corrupts, and a graph file left ahead of SQLite by it is rebuilt on open (generation check).
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def _rows(self, sql: str, parameters: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    @contextmanager
    def _transaction(self, guarded: bool = True) -> Iterator[sqlite3.Connection]:
        """`guarded`: a write of images (not the graph's bookkeeping), which `write_guard` may refuse."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if guarded and self.write_guard is not None:
                    self.write_guard()
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- writes -------------------------------------------------------------------------------------------------

    def insert_meta(self, model_id: str, dim: int) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO meta (singleton, model_id, dim, generation) VALUES (1, ?, ?, 0)",
                       (model_id, dim))  # fmt: skip

    def add_images(
        self, entries: Sequence[IndexEntry], vectors_by_entry: Sequence[np.ndarray], generation: int
    ) -> AddedImages:
        """Insert the images not yet present, stamped with `generation`, which becomes current if any was new."""
        added = AddedImages({}, [], [], [])
        with self._transaction() as db:
            for entry, vectors in zip(entries, vectors_by_entry, strict=True):
                document = entry.document
                if document.image_id in added.outcomes:  # repeated within this call: the first one reports
                    continue
                if db.execute("SELECT 1 FROM images WHERE id = ?", (document.image_id,)).fetchone():
                    added.outcomes[document.image_id] = WriteOutcome.DUPLICATE
                    continue
                db.execute("INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", image_values(document))
                own_keys: list[int] = []
                for obj, vector in zip(document.objects, vectors, strict=True):
                    inserted = db.execute(
                        f"INSERT INTO objects ({OBJECT_COLUMNS}, generation, vector) "
                        "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        object_values(document.image_id, obj, generation, vector),
                    )
                    own_keys.append(int(inserted.lastrowid or 0))
                    added.vectors.append(vector)
                added.keys.extend(own_keys)
                added.created.append((document, own_keys))
                added.outcomes[document.image_id] = WriteOutcome.CREATED
            if WriteOutcome.CREATED in added.outcomes.values():
                db.execute("UPDATE meta SET generation = ?", (generation,))
        return added

    def set_tags(self, image_id: str, tags: Sequence[str]) -> bool:
        """Replace an image's tags; False if it is not there."""
        with self._transaction() as db:
            updated = db.execute("UPDATE images SET tags = ? WHERE id = ?", (json.dumps(list(tags)), image_id))
            return updated.rowcount > 0

    def delete_image(self, image_id: str, generation: int) -> list[int] | None:
        """Remove an image and its objects in `generation`; their keys, or None if the image was not there."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                return None
            keys = [row["key"] for row in db.execute("SELECT key FROM objects WHERE image_id = ?", (image_id,))]
            db.execute("DELETE FROM objects WHERE image_id = ?", (image_id,))
            db.execute("DELETE FROM images WHERE id = ?", (image_id,))
            db.executemany("INSERT INTO removed_keys VALUES (?, ?)", [(key, generation) for key in keys])
            db.execute("UPDATE meta SET generation = ?", (generation,))
        return keys

    def forget_removed_keys(self, through_generation: int) -> None:
        """The graph file saved at `through_generation` no longer holds these keys: nothing to replay."""
        with self._transaction(guarded=False) as db:
            db.execute("DELETE FROM removed_keys WHERE generation <= ?", (through_generation,))

    # --- reads for the graph ------------------------------------------------------------------------------------

    def meta(self) -> Meta | None:
        rows = self._rows("SELECT model_id, dim, generation FROM meta")
        return Meta(rows[0]["model_id"], rows[0]["dim"], rows[0]["generation"]) if rows else None

    def object_count(self) -> int:
        return self._rows("SELECT COUNT(*) AS n FROM objects")[0]["n"]

    def removed_keys_since(self, generation: int) -> list[int]:
        return [row["key"] for row in self._rows("SELECT key FROM removed_keys WHERE generation > ?", (generation,))]

    def vector_chunks(self, min_generation: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(keys, vectors) of objects added after `min_generation`, a bounded number of rows at a time."""
        with self._lock:
            cursor = self._db.execute("SELECT key, vector FROM objects WHERE generation > ?", (min_generation,))
            while rows := cursor.fetchmany(REBUILD_CHUNK_ROWS):
                keys = np.array([row["key"] for row in rows], dtype=np.uint64)
                yield keys, np.stack([row_vector(row) for row in rows])

    def object_facts(self) -> Iterator[tuple[str, int, int, list[tuple[int, ImageObject]]]]:
        """Every image (id, width, height) with its objects and their keys, for the object table."""
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {OBJECT_COLUMNS}, images.width, images.height FROM objects "
                "JOIN images ON images.id = objects.image_id ORDER BY objects.image_id, objects.idx"
            )
            current: tuple[str, int, int] | None = None
            objects: list[tuple[int, ImageObject]] = []
            while rows := cursor.fetchmany(REBUILD_CHUNK_ROWS):
                for row in rows:
                    if current is None or row["image_id"] != current[0]:
                        if current is not None:
                            yield (*current, objects)
                        current, objects = (row["image_id"], row["width"], row["height"]), []
                    objects.append((row["key"], stored_object(row)))
            if current is not None:
                yield (*current, objects)

    # --- reads for the interface --------------------------------------------------------------------------------

    def get(self, image_id: str) -> ImageDocument | None:
        with self._lock:  # image and objects from one snapshot: writes hold this lock for their transaction
            documents = self._documents(self._rows(f"SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)))
        return documents[0] if documents else None

    def get_many(self, image_ids: Sequence[str]) -> dict[str, ImageDocument]:
        with self._lock:
            rows = self._rows(f"SELECT {IMAGE_COLUMNS} FROM images WHERE id IN (SELECT value FROM json_each(?))",
                              (json.dumps(list(image_ids)),))  # fmt: skip
            return {document.image_id: document for document in self._documents(rows)}

    def _documents(self, image_rows: list[sqlite3.Row]) -> list[ImageDocument]:
        ids = [row["id"] for row in image_rows]
        objects_by_image: dict[str, list[ImageObject]] = {image_id: [] for image_id in ids}
        object_rows = self._rows(
            f"SELECT {OBJECT_COLUMNS} FROM objects WHERE image_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY image_id, idx",
            (json.dumps(ids),),
        )
        for row in object_rows:
            objects_by_image[row["image_id"]].append(stored_object(row))
        return [image_document(row, objects_by_image[row["id"]]) for row in image_rows]

    def vectors(self, image_id: str) -> list[np.ndarray] | None:
        """The image's object vectors in object order, or None if the image is not there."""
        with self._lock:
            if not self._rows("SELECT 1 FROM images WHERE id = ?", (image_id,)):
                return None
            rows = self._rows("SELECT vector FROM objects WHERE image_id = ? ORDER BY idx", (image_id,))
        return [row_vector(row) for row in rows]

    def newest(
        self, after: tuple[int, str], limit: int, tags: Sequence[str] = ()
    ) -> tuple[list[ImageDocument], tuple[int, str] | None]:
        """Up to `limit` images older than `after` (created_at_us, id) holding every one of `tags`, newest first,
        and where the next page starts."""
        with self._lock:
            rows = self._rows(
                f"SELECT {IMAGE_COLUMNS}, created_at_us FROM images WHERE (created_at_us, id) < (?, ?) "
                f"AND {_HOLDS_EVERY_TAG} ORDER BY created_at_us DESC, id DESC LIMIT ?",
                (*after, json.dumps(list(tags)), limit + 1),
            )
            documents = self._documents(rows[:limit])
        last = rows[limit - 1] if len(rows) > limit else None
        return documents, (last["created_at_us"], last["id"]) if last is not None else None

    @contextmanager
    def writes_held(self) -> Iterator[None]:
        """Hold SQLite's write lock (of every process on this file) for the block: no write commits meanwhile."""
        with self._transaction(guarded=False):
            yield

    def documents_after(self, image_id: str | None, limit: int) -> list[ImageDocument]:
        """Up to `limit` images whose id sorts after `image_id`, in id order."""
        with self._lock:
            rows = self._rows(f"SELECT {IMAGE_COLUMNS} FROM images WHERE id > ? ORDER BY id LIMIT ?",
                              (image_id or "", limit))  # fmt: skip
            return self._documents(rows)

    def image_count(self) -> int:
        return self._rows("SELECT COUNT(*) AS n FROM images")[0]["n"]

    def object_label_counts(self) -> dict[str, int]:
        """Detected objects (not whole-image ones) per label."""
        label_rows = self._rows("SELECT label, COUNT(*) AS n FROM objects WHERE kind = ? GROUP BY label",
                                (ObjectKind.OBJECT.value,))  # fmt: skip
        return {row["label"]: row["n"] for row in label_rows}

    # --- reads for search ---------------------------------------------------------------------------------------

    def keys_with_labels(self, kinds: Sequence[ObjectKind], labels: Sequence[str], limit: int) -> list[int]:
        rows = self._rows(
            "SELECT key FROM objects WHERE kind IN (SELECT value FROM json_each(?)) "
            "AND label IN (SELECT value FROM json_each(?)) LIMIT ?",
            (json.dumps([kind.value for kind in kinds]), json.dumps(list(labels)), limit),
        )
        return [row["key"] for row in rows]

    def images_with_tags(self, image_ids: Sequence[str], tags: Sequence[str]) -> set[str]:
        """Those of the images that hold every one of `tags`."""
        rows = self._rows(
            f"SELECT id FROM images WHERE id IN (SELECT value FROM json_each(?)) AND {_HOLDS_EVERY_TAG}",
            (json.dumps(list(image_ids)), json.dumps(list(tags))),
        )
        return {row["id"] for row in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
