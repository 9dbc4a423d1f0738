"""Translation between our types and Elasticsearch's `_source`, fields and hits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from imgsearch.index.types import ImageDocument, ImageHit, IndexEntry, Match, StoredObject
from pipeline.records import Box, ObjectKind


def to_source(entry: IndexEntry) -> dict[str, Any]:
    document = entry.document
    objects = [
        {
            "index": obj.index,
            "kind": obj.kind.value,
            "label": obj.label,
            "score": obj.score,
            "bbox": {"x1": obj.box.x1, "y1": obj.box.y1, "x2": obj.box.x2, "y2": obj.box.y2},
            "vector": vector.tolist(),
        }
        for obj, vector in zip(document.objects, entry.vectors, strict=True)
    ]
    return {
        "image_id": document.image_id,
        "width": document.width,
        "height": document.height,
        "content_type": document.content_type,
        "byte_size": document.byte_size,
        "source": document.source,
        "created_at": document.created_at.isoformat(),
        "model_id": document.model_id,
        "tags": list(document.tags),
        "labels": document.labels,
        "object_count": sum(obj.kind is ObjectKind.OBJECT for obj in document.objects),
        "objects": objects,
    }


def _object(source: dict[str, Any]) -> StoredObject:
    bbox = source["bbox"]
    return StoredObject(
        index=source["index"],
        kind=ObjectKind(source["kind"]),
        label=source["label"],
        score=source["score"],
        box=Box(bbox["x1"], bbox["y1"], bbox["x2"], bbox["y2"]),
    )


def from_source(image_id: str, source: dict[str, Any]) -> ImageDocument:
    return ImageDocument(
        image_id=image_id,
        width=source["width"],
        height=source["height"],
        content_type=source["content_type"],
        byte_size=source["byte_size"],
        model_id=source["model_id"],
        source=source["source"],
        created_at=datetime.fromisoformat(source["created_at"]),
        tags=tuple(source.get("tags", [])),
        objects=tuple(sorted((_object(obj) for obj in source["objects"]), key=lambda obj: obj.index)),
    )


def vectors_from_fields(fields: dict[str, Any]) -> np.ndarray:
    """Vectors from the `fields` response, ordered by object index (fields do not keep the nested order)."""
    nested = fields["objects"]
    return np.asarray([obj["vector"] for obj in nested], dtype=np.float32)


def cosine_from_score(score: float) -> float:
    """ES reports dot_product similarity as (1 + dot) / 2; for unit vectors the dot is the cosine."""
    return 2.0 * score - 1.0


# Search hits read doc values, not `_source`: for every inner hit ES would otherwise parse the whole root
# document's source to cut out the nested object (its docs call this out as the expensive part of inner hits).
HIT_FIELDS = ["width", "height"]
MATCH_FIELDS = [f"objects.{name}" for name in ("index", "kind", "label", "bbox.x1", "bbox.y1", "bbox.x2", "bbox.y2")]


def _match(inner: dict[str, Any]) -> Match:
    fields = inner["fields"]

    def value(name: str) -> Any:
        return fields[f"objects.{name}"][0]

    return Match(
        object_index=int(value("index")),
        kind=ObjectKind(value("kind")),
        label=value("label"),
        box=Box(float(value("bbox.x1")), float(value("bbox.y1")), float(value("bbox.x2")), float(value("bbox.y2"))),
        similarity=cosine_from_score(inner["_score"]),
    )


def hit_from_search(hit: dict[str, Any]) -> ImageHit:
    return ImageHit(
        image_id=hit["_id"],
        similarity=cosine_from_score(hit["_score"]),
        width=int(hit["fields"]["width"][0]),
        height=int(hit["fields"]["height"][0]),
        matches=tuple(_match(inner) for inner in hit["inner_hits"]["matches"]["hits"]["hits"]),
    )
