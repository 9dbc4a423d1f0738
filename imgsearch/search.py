"""Search: turn a query (new bytes or an indexed image; whole, one detected object, or a drawn box) into a vector
and ask the index for the nearest images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.index.base import VectorIndex
from imgsearch.index.types import ImageObject, SearchPage, VectorQuery
from imgsearch.metrics import timed
from imgsearch.query_expansion import expanded_query
from imgsearch.storage.base import BlobKind, BlobStore
from pipeline.records import Box, ObjectKind
from pipeline.runner import AnalyzedImage, Pipeline

DEFAULT_KINDS = (ObjectKind.OBJECT, ObjectKind.IMAGE)


@dataclass(frozen=True)
class SearchOptions:
    """`object` picks a detected query object (0-based); `box` is a region in query-image pixels."""

    k: int = 12
    object: int | None = None
    box: Box | None = None
    labels: tuple[str, ...] = ()
    kinds: tuple[ObjectKind, ...] = DEFAULT_KINDS
    min_similarity: float | None = None
    offset: int = 0
    num_candidates: int | None = None
    expand: bool | None = None  # query expansion; None: the searcher's default


@dataclass(frozen=True)
class QueryDescription:
    width: int
    height: int
    objects: list[ImageObject]
    used_box: Box
    used_label: str


@dataclass(frozen=True)
class SearchOutcome:
    query: QueryDescription
    page: SearchPage


class Searcher:
    def __init__(
        self, pipeline: Pipeline, index: VectorIndex, blobs: BlobStore, expand_by_default: bool = False
    ) -> None:
        self.pipeline = pipeline
        self.index = index
        self.blobs = blobs
        self.expand_by_default = expand_by_default

    def by_bytes(self, data: bytes, options: SearchOptions, exclude_ids: tuple[str, ...] = ()) -> SearchOutcome:
        """Search with an image that need not be indexed."""
        if options.object is not None and options.box is not None:
            raise InvalidRequest("give either an object or a box, not both")
        analyzed = self.pipeline.analyze(data, for_query=True)
        objects = analyzed.detected()
        vector, used_box, used_label = self._query_vector(analyzed, objects, options)
        page = self._search(vector, options, exclude_ids)
        decoded = analyzed.decoded
        return SearchOutcome(QueryDescription(decoded.width, decoded.height, objects, used_box, used_label), page)

    def by_image_id(self, image_id: str, options: SearchOptions) -> SearchOutcome:
        """More like an indexed image (or one of its objects); the image itself is left out of the results."""
        if options.box is not None:
            # A drawn region needs pixels: run the pipeline on the stored original.
            return self.by_bytes(self.blobs.get(BlobKind.ORIGINAL, image_id), options, exclude_ids=(image_id,))
        document = self.index.get(image_id)
        vectors = self.index.vectors(image_id)
        if document is None or vectors is None:
            raise NotFound(f"no indexed image {image_id}")
        detected = [obj for obj in document.objects if obj.kind is ObjectKind.OBJECT]
        chosen = _pick(document.objects[0], detected, options.object)
        page = self._search(vectors[chosen.index], options, exclude_ids=(image_id,))
        query = QueryDescription(document.width, document.height, detected, chosen.box, chosen.label)
        return SearchOutcome(query, page)

    def _query_vector(
        self, analyzed: AnalyzedImage, objects: list[ImageObject], options: SearchOptions
    ) -> tuple[np.ndarray, Box, str]:
        decoded = analyzed.decoded
        if options.box is not None:
            box = _checked_box(options.box, decoded.width, decoded.height, self.pipeline.config.detector.min_box_side)
            vector = self.pipeline.embed_regions(analyzed, np.asarray([box.as_list()], np.float32))[0]
            return vector, box, "region"
        if options.object is not None:
            chosen = _pick(None, objects, options.object)
            return self.pipeline.embed_detected(analyzed, [options.object])[0], chosen.box, chosen.label
        whole = analyzed.whole()
        return self.pipeline.embed_whole(analyzed), whole.box, whole.label

    def _search(self, vector: np.ndarray, options: SearchOptions, exclude_ids: tuple[str, ...]) -> SearchPage:
        query = VectorQuery(
            vector=vector,
            model_id=self.pipeline.model_id,
            k=options.k,
            kinds=options.kinds,
            labels=options.labels,
            min_similarity=options.min_similarity,
            num_candidates=options.num_candidates,
            offset=options.offset,
            exclude_ids=exclude_ids,
        )
        if self.expand_by_default if options.expand is None else options.expand:
            with timed("expand"):
                query = expanded_query(self.index, query)
        with timed("knn"):
            return self.index.search(query)


def _pick(whole: ImageObject | None, detected: list[ImageObject], position: int | None) -> ImageObject:
    if position is None:
        if whole is None:
            raise InvalidRequest("no object chosen")
        return whole
    if not 0 <= position < len(detected):
        raise InvalidRequest(f"object {position} does not exist: the query image has {len(detected)} detected objects")
    return detected[position]


def _checked_box(box: Box, width: int, height: int, min_side: float) -> Box:
    """A drawn box must lie on the image (it is clamped to it) and keep a usable size."""
    clamped = Box(max(0.0, box.x1), max(0.0, box.y1), min(float(width), box.x2), min(float(height), box.y2))
    if clamped.width < max(min_side, 1) or clamped.height < max(min_side, 1):
        raise InvalidRequest(
            f"the box {box.as_list()} leaves less than {min_side:g} pixels a side on the {width}x{height} image"
        )
    return clamped
