"""Translation between our types and Elasticsearch's `_source`, fields and hits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from elasticsearch.helpers import pack_dense_vector

from imgsearch.index.types import ImageDocument, ImageHit, ImageObject, IndexEntry, Match
from pipeline.records import KIND_BY_VALUE, Box, ObjectKind


def to_source(entry: IndexEntry) -> dict[str, Any]:
    document = entry.document
    objects = [
        {
            "index": obj.index,
            "kind": obj.kind.value,
            "label": obj.label,
            "score": obj.score,
            "bbox": {"x1": obj.box.x1, "y1": obj.box.y1, "x2": obj.box.x2, "y2": obj.box.y2},
            # Base64 of big-endian float32 (Elasticsearch ≥ 9.3): a quarter of the JSON, no float parsing.
            "vector": pack_dense_vector(np.asarray(vector, dtype=np.float32)),
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


def _box(source: dict[str, Any]) -> Box:
    bbox = source["bbox"]
    return Box(bbox["x1"], bbox["y1"], bbox["x2"], bbox["y2"])


def _object(source: dict[str, Any]) -> ImageObject:
    return ImageObject(
        index=source["index"],
        kind=KIND_BY_VALUE[source["kind"]],
        label=source["label"],
        score=source["score"],
        box=_box(source),
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


def part_hits_name(part: int) -> str:
    return f"part-{part}"


# A search hit's own `_source`: its size and its objects without vectors. Inner hits carry no source, only the
# matched object's offset in this list: Elasticsearch extracting a nested source for every inner hit cost it 2.35
# against 2.10 ms of CPU a search (bench/es_inner_hits.py: 100K vectors, 384-d, one segment).
HIT_SOURCE = ["width", "height", "objects.index", "objects.kind", "objects.label", "objects.bbox"]


def hit_from_search(hit: dict[str, Any], parts: int = 1) -> ImageHit:
    """A search hit; with several parts (an AND query) each part's inner hits are its matches, and the hit's
    similarity is the mean of the parts' best, from the bool's sum of each clause's (1 + cosine) / 2."""
    if parts == 1:
        named = [(0, hit["inner_hits"]["matches"])]
        similarity = cosine_from_score(hit["_score"])
    else:
        named = [(part, hit["inner_hits"][part_hits_name(part)]) for part in range(parts)]
        similarity = cosine_from_score(hit["_score"] / parts)
    source = hit["_source"]
    objects = source["objects"]
    matches = tuple(
        _match(objects[inner["_nested"]["offset"]], cosine_from_score(inner["_score"]), part)
        for part, inner_hits in named
        for inner in inner_hits["hits"]["hits"]
    )
    return ImageHit(image_id=hit["_id"], similarity=similarity, width=source["width"], height=source["height"],
                    matches=matches)  # fmt: skip


def _match(obj: dict[str, Any], similarity: float, part: int) -> Match:
    return Match(
        object_index=obj["index"],
        kind=KIND_BY_VALUE[obj["kind"]],
        label=obj["label"],
        box=_box(obj),
        similarity=similarity,
        part=part,
    )
