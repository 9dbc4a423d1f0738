"""Aggregate query outcomes into the eval report: a JSON-ready dict and a printed table."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from imgsearch.evaluation.metrics import percentile_ms
from imgsearch.evaluation.run import MODES, PAGE_SIZE, IngestOutcome, QueryOutcome

GOAL_OBJECT_MAP = 0.80
GOAL_MAP_GAIN = 0.20
GOAL_BOX_SHARE = 0.90
# Search by object without a click (issue 16): an upload alone within 0.05 of the clicked object; a click by
# query_id at most 0.35x a first search; a result shows at most 2 boxes and a one-object query offers one.
GOAL_UPLOAD_ONLY_GAP = 0.05
GOAL_CLICK_LATENCY_RATIO = 0.35
GOAL_MATCHES_PER_RESULT = 2
GOAL_QUERY_OBJECTS = 1


def summarize(outcomes: list[QueryOutcome], iou_threshold: float) -> dict[str, Any]:
    """Means over the queries of one kind and mode."""
    ious = [iou for outcome in outcomes for iou in outcome.relevant_box_ious]
    per_result = [count for outcome in outcomes for count in outcome.matches_per_result]
    seconds = [outcome.seconds for outcome in outcomes]
    page_seconds = [outcome.page_seconds for outcome in outcomes if outcome.page_seconds is not None]
    return {
        "queries": len(outcomes),
        "map_at_100": float(np.mean([o.average_precision for o in outcomes])) if outcomes else None,
        "recall_at_1": float(np.mean([o.recall_at_1 for o in outcomes])) if outcomes else None,
        "recall_at_10": float(np.mean([o.recall_at_10 for o in outcomes])) if outcomes else None,
        "relevant_hits_with_box": len(ious),
        "box_iou_share": float(np.mean([iou >= iou_threshold for iou in ious])) if ious else None,
        "latency_ms_p50": percentile_ms(seconds, 50),
        "latency_ms_p95": percentile_ms(seconds, 95),
        "page_latency_ms_p50": percentile_ms(page_seconds, 50),
        "fell_back_to_whole_image": sum(o.fell_back_to_whole for o in outcomes),
        "query_objects_median": float(np.median([o.query_objects for o in outcomes])) if outcomes else None,
        "matches_per_result_median": float(np.median(per_result)) if per_result else None,
    }


def goals(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The goals, measured on object queries; `at_most` marks a goal that is a ceiling."""
    by_object, by_whole = results.get("object/object"), results.get("object/whole-image")
    upload_only = results.get("object/upload-only")
    if not by_object or not by_whole or not upload_only or None in (by_object["map_at_100"], upload_only["map_at_100"]):
        return {}
    gain = by_object["map_at_100"] - by_whole["map_at_100"]
    measured: dict[str, dict[str, Any]] = {
        "object_query_map": {"value": by_object["map_at_100"], "goal": GOAL_OBJECT_MAP},
        "map_gain_over_whole_image": {"value": gain, "goal": GOAL_MAP_GAIN},
        "relevant_hits_box_iou_share": {"value": by_object["box_iou_share"] or 0.0, "goal": GOAL_BOX_SHARE},
        "upload_only_map_gap": {
            "value": by_object["map_at_100"] - upload_only["map_at_100"],
            "goal": GOAL_UPLOAD_ONLY_GAP,
            "at_most": True,
        },
        "matches_per_result_median": {
            "value": by_object["matches_per_result_median"],
            "goal": GOAL_MATCHES_PER_RESULT,
            "at_most": True,
        },
        "query_objects_median": {
            "value": upload_only["query_objects_median"],
            "goal": GOAL_QUERY_OBJECTS,
            "at_most": True,
        },
    }
    if upload_only["page_latency_ms_p50"] and by_object["page_latency_ms_p50"] is not None:
        measured["click_latency_ratio"] = {
            "value": by_object["page_latency_ms_p50"] / upload_only["page_latency_ms_p50"],
            "goal": GOAL_CLICK_LATENCY_RATIO,
            "at_most": True,
        }
    return measured


def build_report(
    settings_summary: dict[str, Any], ingest: IngestOutcome, outcomes: list[QueryOutcome], iou_threshold: float
) -> dict[str, Any]:
    kinds = sorted({outcome.kind for outcome in outcomes})
    results = {
        f"{kind}/{mode}": summarize([o for o in outcomes if o.kind == kind and o.mode == mode], iou_threshold)
        for kind in kinds
        for mode in MODES
    }
    measured = goals(results)
    for goal in measured.values():
        value = goal["value"]
        goal["met"] = value is not None and (value <= goal["goal"] if goal.get("at_most") else value >= goal["goal"])
    return {
        "setup": settings_summary,
        "ingest": asdict(ingest) | {"images_per_s": ingest.images / ingest.seconds if ingest.seconds else None},
        "results": results,
        "goals": measured,
    }


def _cell(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(report: dict[str, Any], console: Console) -> None:
    table = Table(title="imgsearch eval: an upload alone, a click on the object, the whole image")
    columns = ("queries", "search", "n", "mAP@100", "R@1", "R@10", "box IoU≥0.5", "objects", "boxes", "p50 ms",
               "p95 ms")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("queries", "search") else "right")
    for key, row in report["results"].items():
        kind, mode = key.split("/")
        table.add_row(
            kind,
            mode,
            str(row["queries"]),
            _cell(row["map_at_100"]),
            _cell(row["recall_at_1"]),
            _cell(row["recall_at_10"]),
            _cell(row["box_iou_share"]),
            _cell(row["query_objects_median"], 0),
            _cell(row["matches_per_result_median"], 0),
            _cell(row["latency_ms_p50"], 0),
            _cell(row["latency_ms_p95"], 0),
        )
    console.print(table)
    ingest = report["ingest"]
    console.print(
        f"gallery: {ingest['images']} images in {ingest['seconds']:.1f} s ({ingest['images_per_s']:.2f} img/s), "
        f"{ingest['objects_per_image']:.2f} objects per image, "
        f"{ingest['detection_recall']:.3f} of true objects detected at IoU ≥ 0.5"
    )
    console.print(
        "objects: median objects the query offered; boxes: median matched boxes per result; the object row's "
        "latency is a click by query_id (its object's crop embedded, no decode, no detection)"
    )
    upload_only, by_object = report["results"].get("object/upload-only"), report["results"].get("object/object")
    if upload_only and by_object and upload_only["page_latency_ms_p50"] and by_object["page_latency_ms_p50"]:
        first_ms, click_ms = upload_only["page_latency_ms_p50"], by_object["page_latency_ms_p50"]
        console.print(
            f"one page ({PAGE_SIZE} results), object queries: first search p50 {first_ms:.0f} ms, a click by "
            f"query_id p50 {click_ms:.0f} ms ({click_ms / first_ms:.2f}x); at the table's k: "
            f"{by_object['latency_ms_p50'] / upload_only['latency_ms_p50']:.2f}x"
        )
    for name, goal in report["goals"].items():
        verdict = "[green]met[/green]" if goal["met"] else "[red]missed[/red]"
        sign = "≤" if goal.get("at_most") else "≥"
        console.print(f"goal {name}: {_cell(goal['value'])} (goal {sign} {goal['goal']:.2f}) {verdict}")
