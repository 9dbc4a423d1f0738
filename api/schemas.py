"""The JSON the API speaks, named by role (…Public for what it returns, …Request for what it takes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from imgsearch.index.types import ImageDocument, ImageHit, ImageObject, Match
from pipeline.records import Box, ObjectKind

BBox = Annotated[list[float], Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in image pixels")]
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .:/-]+$")]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ObjectPublic(BaseModel):
    bbox: BBox
    label: str
    score: float

    @classmethod
    def of(cls, obj: ImageObject) -> ObjectPublic:
        return cls(bbox=obj.box.as_list(), label=obj.label, score=round(obj.score, 4))


class ImagePublic(BaseModel):
    id: str
    width: int
    height: int
    content_type: str
    byte_size: int
    source: str
    created_at: datetime
    tags: list[str]
    objects: list[ObjectPublic]
    thumbnail_url: str
    content_url: str

    @classmethod
    def of(cls, document: ImageDocument) -> ImagePublic:
        return cls(
            id=document.image_id,
            width=document.width,
            height=document.height,
            content_type=document.content_type,
            byte_size=document.byte_size,
            source=document.source,
            created_at=document.created_at,
            tags=list(document.tags),
            objects=[ObjectPublic.of(obj) for obj in document.objects if obj.kind is ObjectKind.OBJECT],
            thumbnail_url=f"/api/v1/images/{document.image_id}/thumbnail",
            content_url=f"/api/v1/images/{document.image_id}/content",
        )


class IngestedImage(BaseModel):
    id: str
    width: int
    height: int
    duplicate: bool
    objects: list[ObjectPublic]


class IngestFailure(BaseModel):
    source: str
    error: ErrorDetail


class IngestResponse(BaseModel):
    images: list[IngestedImage]
    failed: list[IngestFailure] = Field(default_factory=list)


class UrlIngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = None
    urls: list[HttpUrl] = Field(default_factory=list, max_length=100)
    tags: list[Tag] = Field(default_factory=list, max_length=32)

    def all_urls(self) -> list[str]:
        return [str(url) for url in ([self.url] if self.url else []) + self.urls]


class ImagePage(BaseModel):
    images: list[ImagePublic]
    next_cursor: str | None


class SearchParameters(BaseModel):
    """Options shared by every kind of query."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(default=12, ge=1, le=100, description="images per page")
    object: int | None = Field(default=None, ge=0, description="index of a detected query object")
    box: BBox | None = None
    labels: list[str] = Field(default_factory=list, max_length=50)
    kinds: list[ObjectKind] = Field(
        default_factory=lambda: [ObjectKind.OBJECT, ObjectKind.IMAGE],
        min_length=1,
        description="which stored vectors compete: detected objects, whole images, or both",
    )
    min_similarity: float | None = Field(default=None, ge=-1, le=1)
    expand: bool | None = Field(
        default=None,
        description="search again with the query averaged with its best match; default: the server's setting",
    )
    cursor: str | None = None

    @field_validator("box")
    @classmethod
    def _box_is_ordered(cls, box: list[float] | None) -> list[float] | None:
        if box is not None and not (box[0] < box[2] and box[1] < box[3]):
            raise ValueError("box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2")
        return box

    def box_value(self) -> Box | None:
        return Box(*self.box) if self.box else None


class SearchRequest(SearchParameters):
    """A JSON query: an image by URL, or an image already indexed."""

    url: HttpUrl | None = None
    image_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class UsedQuery(BaseModel):
    bbox: BBox
    label: str


class QueryPublic(BaseModel):
    width: int
    height: int
    objects: list[ObjectPublic]
    used: UsedQuery


class MatchPublic(BaseModel):
    bbox: BBox
    label: str
    similarity: float

    @classmethod
    def of(cls, match: Match) -> MatchPublic:
        return cls(bbox=match.box.as_list(), label=match.label, similarity=round(match.similarity, 4))


class SearchResult(BaseModel):
    id: str
    similarity: float
    width: int
    height: int
    thumbnail_url: str
    content_url: str
    matches: list[MatchPublic]

    @classmethod
    def of(cls, hit: ImageHit) -> SearchResult:
        return cls(
            id=hit.image_id,
            similarity=round(hit.similarity, 4),
            width=hit.width,
            height=hit.height,
            thumbnail_url=f"/api/v1/images/{hit.image_id}/thumbnail",
            content_url=f"/api/v1/images/{hit.image_id}/content",
            matches=[MatchPublic.of(match) for match in hit.matches],
        )


class SearchResponse(BaseModel):
    query: QueryPublic
    results: list[SearchResult]
    next_cursor: str | None
    took_ms: float


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    prefix: str = Field(default="", max_length=1024)
    folder: str | None = Field(default=None, description="a server-side folder, when the settings allow it")
    tags: list[Tag] = Field(default_factory=list, max_length=32)


class JobPublic(BaseModel):
    id: str
    kind: str
    state: str
    total: int | None
    done: int
    duplicates: int
    failed: int
    errors: list[IngestFailure]
    created_at: datetime
    finished_at: datetime | None
    optimized: str | None = Field(default=None, description="what optimising the index after a large import did")


class StatsPublic(BaseModel):
    images: int
    objects: int
    labels: dict[str, int]
    index_size_bytes: int
    model_id: str | None
    dim: int | None
    backend: str
