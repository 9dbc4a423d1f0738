"""Search: turn a query (new bytes, a query session, or an indexed image; its main object, chosen objects, drawn
boxes, or the whole image) into vectors and ask the index for the nearest images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.index.base import MAX_QUERY_PARTS, VectorIndex
from imgsearch.index.types import ImageObject, SearchPage, VectorQuery
from imgsearch.metrics import timed
from imgsearch.query_expansion import expanded_query
from imgsearch.query_sessions import QuerySession, QuerySessions
from imgsearch.relevant_matches import relevant_page
from imgsearch.storage.base import BlobKind, BlobStore
from pipeline.query_objects import MainObjectRule, main_object, merged
from pipeline.records import Box, ObjectKind
from pipeline.runner import Pipeline

DEFAULT_KINDS = (ObjectKind.OBJECT, ObjectKind.IMAGE)
Target = Literal["auto", "image"]
PartKind = Literal["object", "box", "image"]


@dataclass(frozen=True)
class SearchOptions:
    """What to search with: `objects` (0-based positions among the query's detected objects) and `boxes`
    (regions in query-image pixels) are the query's parts, all of which a result must match; with none, the
    main object (`target` "auto") or the whole image (`target` "image")."""

    k: int = 12
    objects: tuple[int, ...] = ()
    boxes: tuple[Box, ...] = ()
    target: Target = "auto"
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # only images holding every one
    kinds: tuple[ObjectKind, ...] = DEFAULT_KINDS
    min_similarity: float | None = None
    offset: int = 0
    num_candidates: int | None = None
    expand: bool | None = None  # query expansion; None: the searcher's default
    all_matches: bool = False  # every matched box the index returns, not only those that matter


@dataclass(frozen=True)
class QueryPart:
    """One thing searched for: a detected object (`object` its position), a drawn box, or the whole image;
    `auto` when the searcher chose it because the request named nothing."""

    kind: PartKind
    box: Box
    label: str
    object: int | None = None
    auto: bool = False


@dataclass(frozen=True)
class QueryDescription:
    width: int
    height: int
    objects: list[ImageObject]
    parts: list[QueryPart]
    query_id: str | None = None  # a session to search again without the image (None for an indexed image)

    @property
    def used(self) -> QueryPart:
        return self.parts[0]


@dataclass(frozen=True)
class SearchOutcome:
    query: QueryDescription
    page: SearchPage


@dataclass(frozen=True)
class SearchTuning:
    expand_by_default: bool = False
    main_object_rule: MainObjectRule = "score"
    merge_query_boxes: bool = True
    match_margin: float = 0.05  # see imgsearch/relevant_matches.py


class Searcher:
    def __init__(
        self,
        pipeline: Pipeline,
        index: VectorIndex,
        blobs: BlobStore,
        sessions: QuerySessions,
        tuning: SearchTuning = SearchTuning(),
    ) -> None:
        self.pipeline = pipeline
        self.index = index
        self.blobs = blobs
        self.sessions = sessions
        self.tuning = tuning

    def by_bytes(self, data: bytes, options: SearchOptions, exclude_ids: tuple[str, ...] = ()) -> SearchOutcome:
        """Search with an image that need not be indexed; the outcome's `query_id` searches it again cheaply."""
        _check_parts(options)
        analyzed = self.pipeline.analyze(data, for_query=True)
        if self.tuning.merge_query_boxes:
            analyzed = merged(analyzed)
        return self._by_session(self.sessions.start(analyzed, exclude_ids), options)

    def by_query_id(self, query_id: str, options: SearchOptions) -> SearchOutcome:
        """Search again with an image searched before: no decode, no detection, vectors reused."""
        _check_parts(options)
        return self._by_session(self.sessions.get(query_id), options)

    def by_image_id(self, image_id: str, options: SearchOptions) -> SearchOutcome:
        """More like an indexed image (or some of its objects); the image itself is left out of the results."""
        _check_parts(options)
        if options.boxes:
            # A drawn region needs pixels: run the pipeline on the stored original.
            return self.by_bytes(self.blobs.get(BlobKind.ORIGINAL, image_id), options, exclude_ids=(image_id,))
        document = self.index.get(image_id)
        vectors = self.index.vectors(image_id)
        if document is None or vectors is None:
            raise NotFound(f"no indexed image {image_id}")
        whole = document.objects[0]
        detected = [obj for obj in document.objects if obj.kind is ObjectKind.OBJECT]
        chosen = _chosen_objects(detected, options, self.tuning.main_object_rule, document.width, document.height)
        if chosen is None:
            parts = [_whole_part(whole, auto=options.target == "auto")]
            part_vectors = [vectors[whole.index]]
        else:
            positions, auto = chosen
            parts = [_object_part(detected[p], p, auto) for p in positions]
            part_vectors = [vectors[detected[p].index] for p in positions]
        page = self._search(part_vectors, options, exclude_ids=(image_id,))
        return SearchOutcome(QueryDescription(document.width, document.height, detected, parts), page)

    def _by_session(self, session: QuerySession, options: SearchOptions) -> SearchOutcome:
        analyzed = session.analyzed
        decoded = analyzed.decoded
        detected = analyzed.detected()
        chosen = _chosen_objects(detected, options, self.tuning.main_object_rule, decoded.width, decoded.height)
        parts: list[QueryPart] = []
        part_vectors: list[np.ndarray] = []  # computed once per session and part, then reused
        if chosen is not None:
            positions, auto = chosen
            for position in positions:
                parts.append(_object_part(detected[position], position, auto))
                vector = session.vector(("object", position), lambda p=position: self._object_vector(session, p))
                part_vectors.append(vector)
        for box in options.boxes:
            region = _checked_box(box, decoded.width, decoded.height, self.pipeline.config.detector.min_box_side)
            parts.append(QueryPart("box", region, "region"))
            key = ("box", *(round(value, 1) for value in region.as_list()))
            part_vectors.append(session.vector(key, lambda r=region: self._box_vector(session, r)))
        if not parts:
            parts.append(_whole_part(analyzed.whole(), auto=options.target == "auto"))
            part_vectors.append(session.vector(("image",), lambda: self.pipeline.embed_whole(session.analyzed)))
        page = self._search(part_vectors, options, session.exclude_ids)
        query = QueryDescription(decoded.width, decoded.height, detected, parts, session.query_id)
        return SearchOutcome(query, page)

    def _object_vector(self, session: QuerySession, position: int) -> np.ndarray:
        return self.pipeline.embed_detected(session.analyzed, [position])[0]

    def _box_vector(self, session: QuerySession, region: Box) -> np.ndarray:
        return self.pipeline.embed_regions(session.analyzed, np.asarray([region.as_list()], np.float32))[0]

    def _search(
        self, part_vectors: list[np.ndarray], options: SearchOptions, exclude_ids: tuple[str, ...]
    ) -> SearchPage:
        query = VectorQuery(
            vector=part_vectors[0],
            and_vectors=tuple(part_vectors[1:]),
            model_id=self.pipeline.model_id,
            k=options.k,
            kinds=options.kinds,
            labels=options.labels,
            tags=options.tags,
            min_similarity=options.min_similarity,
            num_candidates=options.num_candidates,
            offset=options.offset,
            exclude_ids=exclude_ids,
        )
        expand = self.tuning.expand_by_default if options.expand is None else options.expand
        if expand and len(part_vectors) == 1:  # an AND query's parts are each precise enough to intersect
            with timed("expand"):
                query = expanded_query(self.index, query)
        with timed("knn"):
            page = self.index.search(query)
        return page if options.all_matches else relevant_page(page, self.tuning.match_margin)


def _check_parts(options: SearchOptions) -> None:
    parts = len(options.objects) + len(options.boxes)
    if options.target == "image" and parts:
        raise InvalidRequest("target 'image' searches with the whole image: give no objects or boxes with it")
    if parts > MAX_QUERY_PARTS:
        raise InvalidRequest(f"a query combines at most {MAX_QUERY_PARTS} objects and boxes, not {parts}")
    if len(set(options.objects)) != len(options.objects):
        raise InvalidRequest(f"objects {list(options.objects)} names one object twice")


def _chosen_objects(
    detected: list[ImageObject], options: SearchOptions, rule: MainObjectRule, width: int, height: int
) -> tuple[list[int], bool] | None:
    """Positions of the objects searched with and whether they were chosen automatically; None: none."""
    for position in options.objects:
        if not 0 <= position < len(detected):
            raise InvalidRequest(
                f"object {position} does not exist: the query image has {len(detected)} detected objects"
            )
    if options.objects:
        return list(options.objects), False
    if options.boxes or options.target == "image":
        return None
    scores = np.asarray([obj.score for obj in detected], dtype=np.float32)
    boxes = np.asarray([obj.box.as_list() for obj in detected], dtype=np.float32).reshape(-1, 4)
    main = main_object(scores, boxes, width, height, rule)
    return None if main is None else ([main], True)


def _object_part(obj: ImageObject, position: int, auto: bool) -> QueryPart:
    return QueryPart("object", obj.box, obj.label, object=position, auto=auto)


def _whole_part(whole: ImageObject, auto: bool) -> QueryPart:
    return QueryPart("image", whole.box, whole.label, auto=auto)


def _checked_box(box: Box, width: int, height: int, min_side: float) -> Box:
    """A drawn box must lie on the image (it is clamped to it) and keep a usable size."""
    clamped = Box(max(0.0, box.x1), max(0.0, box.y1), min(float(width), box.x2), min(float(height), box.y2))
    if clamped.width < max(min_side, 1) or clamped.height < max(min_side, 1):
        raise InvalidRequest(
            f"the box {box.as_list()} leaves less than {min_side:g} pixels a side on the {width}x{height} image"
        )
    return clamped
