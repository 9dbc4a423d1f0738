"""What the index stores and returns, independent of the back end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from pipeline.dataclass_init import direct_init
from pipeline.records import Box, ImageObject, ImageRecord, ObjectKind

__all__ = ["Box", "ImageObject", "ObjectKind"]  # the object type is the pipeline's, shared by every layer


@dataclass(frozen=True)
class ImageDocument:
    image_id: str
    width: int
    height: int
    content_type: str
    byte_size: int
    model_id: str
    source: str
    created_at: datetime
    tags: tuple[str, ...] = ()
    objects: tuple[ImageObject, ...] = ()

    @property
    def labels(self) -> list[str]:
        return sorted({obj.label for obj in self.objects if obj.kind is ObjectKind.OBJECT})


@dataclass(frozen=True)
class IndexEntry:
    """A document and its vectors, row i belonging to `document.objects[i]`."""

    document: ImageDocument
    vectors: np.ndarray

    @classmethod
    def from_record(
        cls, record: ImageRecord, source: str, created_at: datetime, tags: tuple[str, ...] = ()
    ) -> IndexEntry:
        objects = tuple(o.object for o in record.objects)
        document = ImageDocument(
            image_id=record.image_id,
            width=record.width,
            height=record.height,
            content_type=record.content_type,
            byte_size=record.byte_size,
            model_id=record.model_id,
            source=source,
            created_at=created_at,
            tags=tags,
            objects=objects,
        )
        return cls(document, np.stack([o.vector for o in record.objects]).astype(np.float32))


class WriteOutcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"


@direct_init
@dataclass(frozen=True)
class VectorQuery:
    """Nearest images by their best-matching objects.

    `kinds` chooses which stored vectors compete (detected objects, whole images, or both); `labels` keeps only
    objects with those labels; `min_similarity` is a cosine similarity; `offset` pages through the ranking.
    `tags`: only images holding every one of these tags.
    `and_vectors`: "this AND that": further query vectors (parts 1, 2, …; `vector` is part 0) that every result
    must also match, each by one of its objects; results rank by the mean of each part's best similarity.
    """

    vector: np.ndarray
    model_id: str
    k: int = 12
    kinds: tuple[ObjectKind, ...] = (ObjectKind.OBJECT,)
    labels: tuple[str, ...] = ()
    min_similarity: float | None = None
    num_candidates: int | None = None
    offset: int = 0
    matches_per_image: int = 5  # per part
    exclude_ids: tuple[str, ...] = ()
    and_vectors: tuple[np.ndarray, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def part_vectors(self) -> tuple[np.ndarray, ...]:
        return (self.vector, *self.and_vectors)


@direct_init
@dataclass(frozen=True)
class Match:
    """A stored object that matched the query (`part` of it, for "this AND that"), with its cosine similarity."""

    object_index: int
    kind: ObjectKind
    label: str
    box: Box
    similarity: float
    part: int = 0


@direct_init
@dataclass(frozen=True)
class ImageHit:
    image_id: str
    similarity: float
    width: int
    height: int
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class SearchPage:
    hits: list[ImageHit]
    next_offset: int | None


@dataclass(frozen=True)
class BrowsePage:
    images: list[ImageDocument]
    next_cursor: str | None


@dataclass(frozen=True)
class IndexStats:
    images: int
    objects: int
    labels: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0
    model_id: str | None = None
    dim: int | None = None
