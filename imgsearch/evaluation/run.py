"""Run a SceneBench evaluation through the real pipeline, index and blob store."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from imgsearch.core import Core
from imgsearch.evaluation.metrics import average_precision, box_iou, recall_at
from imgsearch.ingest import Ingestor
from imgsearch.scenebench import Query, Scene, SceneBench
from imgsearch.search import Searcher, SearchOptions, SearchOutcome
from pipeline.records import ObjectKind

# "upload-only": the image and nothing else, as a new user asks (the searcher picks the main object);
# "object": then a click on the query object that overlaps the query's identity most, by the first search's
# query_id; "whole-image": the whole query image against whole gallery images.
Mode = Literal["upload-only", "object", "whole-image"]
# Latency as a person meets it: one page of results, as the web UI asks for (frontend/src/lib/useSearch.ts).
PAGE_SIZE = 24
MODES: tuple[Mode, ...] = ("upload-only", "object", "whole-image")


@dataclass(frozen=True)
class QueryOutcome:
    """One query answered in one mode."""

    query_id: str
    kind: str
    mode: Mode
    average_precision: float
    recall_at_1: float
    recall_at_10: float
    seconds: float
    relevant_box_ious: list[float] = field(default_factory=list)  # the first matched box of each relevant hit
    fell_back_to_whole: bool = False  # no detected object (upload-only) or none overlapping the identity (object)
    page_seconds: float | None = None  # upload-only: a first search of one UI page; object: a click, one page
    query_objects: int = 0  # objects the query offered (after merging overlapping detections)
    matches_per_result: list[int] = field(default_factory=list)  # matched boxes each result shows by default


@dataclass(frozen=True)
class IngestOutcome:
    images: int
    seconds: float
    detection_recall: float  # share of true instances that some stored detection covers at IoU >= threshold
    objects_per_image: float


def ingest_gallery(
    bench: SceneBench, ingestor: Ingestor, split: str, iou_threshold: float, on_image: Callable[[], None]
) -> tuple[dict[str, str], IngestOutcome]:
    """Ingest the split's scenes; returns image id -> scene id and how ingestion and detection went."""
    scenes = bench.scenes(split)  # type: ignore[arg-type]
    by_name = {scene.scene_id: scene for scene in scenes}
    scene_of: dict[str, str] = {}
    covered, instances, objects = 0, 0, 0
    started = time.perf_counter()
    sources = [(scene.scene_id, (lambda data=scene.jpeg_bytes: data)) for scene in scenes]
    for name, result in ingestor.ingest_many(sources):
        if isinstance(result, Exception):
            raise RuntimeError(f"could not ingest scene {name}: {result}") from result
        document = result.document
        scene_of[document.image_id] = name
        boxes = [obj.box.as_list() for obj in document.objects if obj.kind is ObjectKind.OBJECT]
        objects += len(boxes)
        for instance in by_name[name].instances:
            instances += 1
            covered += any(box_iou(box, instance.box) >= iou_threshold for box in boxes)
        on_image()
    seconds = time.perf_counter() - started
    return scene_of, IngestOutcome(len(scenes), seconds, covered / max(instances, 1), objects / max(len(scenes), 1))


def _query_box(query: Query) -> tuple[int, int, int, int]:
    """The query identity's visible box in the query image (it is always the first placement)."""
    assert query.composition.placements[0].identity == query.identity
    return query.composition.visible_box(0)


def _clicked_object(outcome: SearchOutcome, query: Query) -> int | None:
    """The query object a user would click: the one overlapping the query identity most, if any."""
    truth = _query_box(query)
    overlaps = [box_iou(obj.box.as_list(), truth) for obj in outcome.query.objects]
    if not overlaps or max(overlaps) <= 0:
        return None
    return int(np.argmax(overlaps))


def _scored(
    scenes: dict[str, Scene], query: Query, mode: Mode, outcome: SearchOutcome, scene_of: dict[str, str], k: int,
    seconds: float, page_seconds: float | None, fell_back: bool,
) -> QueryOutcome:  # fmt: skip
    ranked = [scene_of.get(hit.image_id, hit.image_id) for hit in outcome.page.hits]
    relevant = set(query.relevant_scene_ids)
    ious: list[float] = []
    if mode != "whole-image":
        for scene_id, hit in zip(ranked, outcome.page.hits, strict=True):
            if scene_id in relevant and hit.matches:
                true_box = next(inst.box for inst in scenes[scene_id].instances if inst.identity == query.identity)
                ious.append(box_iou(hit.matches[0].box.as_list(), true_box))
    return QueryOutcome(
        query_id=query.query_id,
        kind=query.kind,
        mode=mode,
        average_precision=average_precision(ranked, relevant, k),
        recall_at_1=recall_at(ranked, relevant, 1),
        recall_at_10=recall_at(ranked, relevant, 10),
        seconds=seconds,
        page_seconds=page_seconds,
        relevant_box_ious=ious,
        fell_back_to_whole=fell_back,
        query_objects=len(outcome.query.objects),
        matches_per_result=[len(hit.matches) for hit in outcome.page.hits],
    )


def run_query(
    scenes: dict[str, Scene], searcher: Searcher, query: Query, scene_of: dict[str, str], k: int
) -> list[QueryOutcome]:
    """Ask one query the three ways, each timed from its request to ranked images; then time a first search and
    a click of one UI page (`PAGE_SIZE`) apart, as the person using the UI waits for them.

    Clicks are timed with the session's vectors dropped, so they pay for embedding the chosen object's crop (a
    click on an object the first search did not use), not only for the kNN search.
    """
    started = time.perf_counter()
    first = searcher.by_bytes(query.jpeg_bytes, SearchOptions(k=k))
    first_seconds = time.perf_counter() - started
    clicked = _clicked_object(first, query)
    objects = (clicked,) if clicked is not None else ()
    click = SearchOptions(k=k, objects=objects, target="auto" if objects else "image", kinds=(ObjectKind.OBJECT,))
    by_click, click_seconds = _timed_click(searcher, first, click)
    page_first, page_first_seconds = _timed(lambda: searcher.by_bytes(query.jpeg_bytes, SearchOptions(k=PAGE_SIZE)))
    _, page_click_seconds = _timed_click(searcher, page_first, dataclasses.replace(click, k=PAGE_SIZE))
    whole = SearchOptions(k=k, target="image", kinds=(ObjectKind.IMAGE,))
    by_whole, whole_seconds = _timed(lambda: searcher.by_bytes(query.jpeg_bytes, whole))
    return [
        _scored(scenes, query, "upload-only", first, scene_of, k, first_seconds, page_first_seconds,
                fell_back=first.query.used.kind == "image"),
        _scored(scenes, query, "object", by_click, scene_of, k, click_seconds, page_click_seconds,
                fell_back=clicked is None),
        _scored(scenes, query, "whole-image", by_whole, scene_of, k, whole_seconds, None, fell_back=False),
    ]  # fmt: skip


def _timed(search: Callable[[], SearchOutcome]) -> tuple[SearchOutcome, float]:
    started = time.perf_counter()
    outcome = search()
    return outcome, time.perf_counter() - started


def _timed_click(searcher: Searcher, first: SearchOutcome, options: SearchOptions) -> tuple[SearchOutcome, float]:
    """A search by the first search's query_id, with no vector computed yet."""
    query_id = first.query.query_id
    assert query_id is not None
    searcher.sessions.get(query_id).vectors.clear()
    return _timed(lambda: searcher.by_query_id(query_id, options))


def evaluate(
    bench: SceneBench,
    core: Core,
    split: str,
    k: int,
    iou_threshold: float,
    on_step: Callable[[], None] = lambda: None,
) -> tuple[IngestOutcome, list[QueryOutcome]]:
    """Ingest the gallery, then answer every query of the split in every mode, as the core's searcher does."""
    scene_of, ingest = ingest_gallery(bench, core.ingestor, split, iou_threshold, on_step)
    searcher = core.searcher
    scenes = {scene.scene_id: scene for scene in bench.scenes(split)}  # type: ignore[arg-type]
    outcomes = []
    for query in (q for q in bench.queries if q.split == split and q.relevant_scene_ids):
        outcomes += run_query(scenes, searcher, query, scene_of, k)
        on_step()
    return ingest, outcomes
