"""The JSON the API speaks, named by role (…Public for what it returns, …Request for what it takes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from imgsearch.errors import InvalidRequest
from imgsearch.index.base import MAX_QUERY_PARTS
from imgsearch.index.types import ImageDocument, ImageHit, ImageObject, Match
from imgsearch.query_sessions import QUERY_ID_PATTERN
from imgsearch.search import QueryPart
from imgsearch.tags import MAX_TAG_LENGTH, MAX_TAGS, TAG_PATTERN
from pipeline.records import Box, ObjectKind

BBox = Annotated[list[float], Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in image pixels")]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_LENGTH, pattern=TAG_PATTERN)]


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
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)

    def all_urls(self) -> list[str]:
        return [str(url) for url in ([self.url] if self.url else []) + self.urls]


class TagsUpdate(BaseModel):
    """An image's new tags (replacing the old ones; an empty list removes them all)."""

    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] = Field(max_length=MAX_TAGS)


class ImagePage(BaseModel):
    images: list[ImagePublic]
    next_cursor: str | None


class SearchParameters(BaseModel):
    """Options shared by every kind of query.

    What is searched for: with no `object(s)`, `box(es)` or `target`, the query's main object (chosen
    automatically, or the whole image when nothing is detected); `target: "image"` searches with the whole image.
    Several objects and boxes together ask for images holding a match for each ("this AND that").
    """

    model_config = ConfigDict(extra="forbid")

    k: int = Field(default=12, ge=1, le=100, description="images per page")
    target: Literal["auto", "image"] = Field(
        default="auto",
        description="'image': search with the whole image; 'auto': the named objects or boxes, else the main object",
    )
    object: int | None = Field(default=None, ge=0, description="position of a detected query object (0-based)")
    objects: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list, max_length=MAX_QUERY_PARTS, description="several detected objects, all to be matched"
    )
    box: BBox | None = None
    boxes: list[BBox] = Field(default_factory=list, max_length=MAX_QUERY_PARTS, description="several drawn regions")
    labels: list[str] = Field(default_factory=list, max_length=50)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS, description="only images holding every one")
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
    all_matches: bool = Field(
        default=False, description="every matched box of each result, not only its best and those close to it"
    )
    cursor: str | None = None

    @field_validator("box")
    @classmethod
    def _box_is_ordered(cls, box: list[float] | None) -> list[float] | None:
        if box is not None:
            _check_box(box)
        return box

    @field_validator("boxes")
    @classmethod
    def _boxes_are_ordered(cls, boxes: list[list[float]]) -> list[list[float]]:
        for box in boxes:
            _check_box(box)
        return boxes

    def object_positions(self) -> tuple[int, ...]:
        if self.object is not None and self.objects:
            raise InvalidRequest("give 'object' or 'objects', not both")
        return (self.object,) if self.object is not None else tuple(self.objects)

    def box_values(self) -> tuple[Box, ...]:
        if self.box is not None and self.boxes:
            raise InvalidRequest("give 'box' or 'boxes', not both")
        return tuple(Box(*box) for box in ([self.box] if self.box else self.boxes))


def _check_box(box: list[float]) -> None:
    if not (box[0] < box[2] and box[1] < box[3]):
        raise ValueError("box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2")


class SearchRequest(SearchParameters):
    """A JSON query: an image by URL, an image already indexed, or the image of an earlier search (`query_id`)."""

    url: HttpUrl | None = None
    image_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    query_id: str | None = Field(
        default=None, pattern=QUERY_ID_PATTERN, description="from an earlier search: search its image again"
    )


class UsedQuery(BaseModel):
    """One part of what was searched for."""

    kind: Literal["object", "box", "image"]
    bbox: BBox
    label: str
    object: int | None = Field(default=None, description="its position among the query's objects")
    auto: bool = Field(default=False, description="chosen by the server because the request named nothing")

    @classmethod
    def of(cls, part: QueryPart) -> UsedQuery:
        return cls(kind=part.kind, bbox=part.box.as_list(), label=part.label, object=part.object, auto=part.auto)


class QueryPublic(BaseModel):
    width: int
    height: int
    objects: list[ObjectPublic] = Field(description="detected objects, overlapping copies merged, best first")
    used: UsedQuery = Field(description="the (first) part searched for")
    parts: list[UsedQuery] = Field(description="every part searched for; a result matches each")


class MatchPublic(BaseModel):
    bbox: BBox
    label: str
    similarity: float
    part: int = Field(description="the query part it matched (position in query.parts)")

    @classmethod
    def of(cls, match: Match) -> MatchPublic:
        return cls(bbox=match.box.as_list(), label=match.label, similarity=round(match.similarity, 4), part=match.part)


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
    query_id: str | None = Field(description="search this query image again (another object, a box) without it")
    query: QueryPublic
    results: list[SearchResult]
    next_cursor: str | None
    took_ms: float


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    prefix: str = Field(default="", max_length=1024)
    folder: str | None = Field(default=None, description="a server-side folder, when the settings allow it")
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


class JobPublic(BaseModel):
    id: str
    kind: str
    state: str = Field(description="queued, running, done, failed, cancelled, or interrupted (resume it)")
    total: int | None
    done: int
    duplicates: int
    failed: int
    errors: list[IngestFailure]
    created_at: datetime
    finished_at: datetime | None
    updated_at: datetime = Field(description="last saved; a running job not saved for 30 s reads as interrupted")
    optimized: str | None = Field(default=None, description="what optimising the index after a large import did")


class StatsPublic(BaseModel):
    images: int
    objects: int
    labels: dict[str, int]
    index_size_bytes: int
    model_id: str | None
    dim: int | None
    backend: str
