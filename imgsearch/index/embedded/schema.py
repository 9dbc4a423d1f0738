"""The SQLite schema and the conversions between its rows and our types."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np

from imgsearch.index.types import ImageDocument, ImageObject
from pipeline.records import KIND_BY_VALUE, Box

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


def epoch_us(moment: datetime) -> int:
    """Sort key for browsing; a naive time counts as UTC, as Elasticsearch reads it."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(microseconds=1)


def image_values(document: ImageDocument) -> tuple[object, ...]:
    """An `images` row, in `SCHEMA`'s column order."""
    return (document.image_id, document.width, document.height, document.content_type,
            document.byte_size, document.model_id, document.source, document.created_at.isoformat(),
            epoch_us(document.created_at), json.dumps(list(document.tags)))  # fmt: skip


def object_values(image_id: str, obj: ImageObject, generation: int, vector: np.ndarray) -> tuple[object, ...]:
    """An `objects` row after its key, in the order of `OBJECT_COLUMNS` then generation and vector."""
    return (image_id, obj.index, obj.kind.value, obj.label, obj.score, *obj.box.as_list(),
            generation, vector.tobytes())  # fmt: skip


def stored_object(row: sqlite3.Row) -> ImageObject:
    box = Box(row["x1"], row["y1"], row["x2"], row["y2"])
    return ImageObject(row["idx"], KIND_BY_VALUE[row["kind"]], row["label"], row["score"], box)


def image_document(row: sqlite3.Row, objects: list[ImageObject]) -> ImageDocument:
    return ImageDocument(
        image_id=row["id"],
        width=row["width"],
        height=row["height"],
        content_type=row["content_type"],
        byte_size=row["byte_size"],
        model_id=row["model_id"],
        source=row["source"],
        created_at=datetime.fromisoformat(row["created_at"]),
        tags=tuple(json.loads(row["tags"])),
        objects=tuple(objects),
    )


def row_vector(row: sqlite3.Row) -> np.ndarray:
    return np.frombuffer(row["vector"], dtype=np.float32)
