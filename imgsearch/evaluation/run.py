"""Run a SceneBench evaluation through the real pipeline, index and blob store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from imgsearch.core import Core
from imgsearch.evaluation.metrics import average_precision, box_iou, recall_at
from imgsearch.ingest import Ingestor
from imgsearch.scenebench import Query, Scene, SceneBench
from imgsearch.search import Searcher, SearchOptions
from pipeline.records import ObjectKind
from pipeline.runner import Pipeline

Mode = Literal["object", "whole-image"]
MODES: tuple[Mode, ...] = ("object", "whole-image")


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
    relevant_box_ious: list[float] = field(default_factory=list)  # object mode: the matched box of each relevant hit
    fell_back_to_whole: bool = False  # object mode, when the detector found nothing in the query


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


def _chosen_object(pipeline: Pipeline, query: Query) -> int | None:
    """The detected query object a user would click: the one overlapping the query identity most, if any."""
    analyzed = pipeline.detect([pipeline.decode(query.jpeg_bytes)], for_query=True)[0]
    truth = _query_box(query)
    overlaps = [box_iou(box.tolist(), truth) for box in analyzed.boxes_xyxy]
    if not overlaps or max(overlaps) <= 0:
        return None
    return int(np.argmax(overlaps))


def run_query(
    scenes: dict[str, Scene], searcher: Searcher, query: Query, mode: Mode, scene_of: dict[str, str], k: int
) -> QueryOutcome:
    """Answer one query in one mode, timed from bytes to ranked images (the choice of object is not timed)."""
    chosen = _chosen_object(searcher.pipeline, query) if mode == "object" else None
    kinds = (ObjectKind.OBJECT,) if mode == "object" else (ObjectKind.IMAGE,)
    options = SearchOptions(k=k, object=chosen, kinds=kinds)
    started = time.perf_counter()
    outcome = searcher.by_bytes(query.jpeg_bytes, options)
    seconds = time.perf_counter() - started
    ranked = [scene_of.get(hit.image_id, hit.image_id) for hit in outcome.page.hits]
    relevant = set(query.relevant_scene_ids)
    ious: list[float] = []
    if mode == "object":
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
        relevant_box_ious=ious,
        fell_back_to_whole=mode == "object" and chosen is None,
    )


def evaluate(
    bench: SceneBench,
    core: Core,
    split: str,
    k: int,
    iou_threshold: float,
    on_step: Callable[[], None] = lambda: None,
) -> tuple[IngestOutcome, list[QueryOutcome]]:
    """Ingest the gallery, then answer every query of the split in both modes, as the core's searcher does."""
    scene_of, ingest = ingest_gallery(bench, core.ingestor, split, iou_threshold, on_step)
    searcher = core.searcher
    scenes = {scene.scene_id: scene for scene in bench.scenes(split)}  # type: ignore[arg-type]
    outcomes = []
    for query in (q for q in bench.queries if q.split == split and q.relevant_scene_ids):
        for mode in MODES:
            outcomes.append(run_query(scenes, searcher, query, mode, scene_of, k))
        on_step()
    return ingest, outcomes
