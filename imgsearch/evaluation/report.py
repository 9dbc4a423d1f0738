"""Aggregate query outcomes into the eval report: a JSON-ready dict and a printed table."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from imgsearch.evaluation.metrics import percentile_ms
from imgsearch.evaluation.run import MODES, IngestOutcome, QueryOutcome

GOAL_OBJECT_MAP = 0.80
GOAL_MAP_GAIN = 0.20
GOAL_BOX_SHARE = 0.90


def summarize(outcomes: list[QueryOutcome], iou_threshold: float) -> dict[str, Any]:
    """Means over the queries of one kind and mode."""
    ious = [iou for outcome in outcomes for iou in outcome.relevant_box_ious]
    seconds = [outcome.seconds for outcome in outcomes]
    return {
        "queries": len(outcomes),
        "map_at_100": float(np.mean([o.average_precision for o in outcomes])) if outcomes else None,
        "recall_at_1": float(np.mean([o.recall_at_1 for o in outcomes])) if outcomes else None,
        "recall_at_10": float(np.mean([o.recall_at_10 for o in outcomes])) if outcomes else None,
        "relevant_hits_with_box": len(ious),
        "box_iou_share": float(np.mean([iou >= iou_threshold for iou in ious])) if ious else None,
        "latency_ms_p50": percentile_ms(seconds, 50),
        "latency_ms_p95": percentile_ms(seconds, 95),
        "fell_back_to_whole_image": sum(o.fell_back_to_whole for o in outcomes),
    }


def goals(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The issue's goals, measured on object queries."""
    by_object, by_whole = results.get("object/object"), results.get("object/whole-image")
    if not by_object or not by_whole or by_object["map_at_100"] is None:
        return {}
    gain = by_object["map_at_100"] - by_whole["map_at_100"]
    box_share = by_object["box_iou_share"] or 0.0
    return {
        "object_query_map": {"value": by_object["map_at_100"], "goal": GOAL_OBJECT_MAP},
        "map_gain_over_whole_image": {"value": gain, "goal": GOAL_MAP_GAIN},
        "relevant_hits_box_iou_share": {"value": box_share, "goal": GOAL_BOX_SHARE},
    }


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
        goal["met"] = goal["value"] >= goal["goal"]
    return {
        "setup": settings_summary,
        "ingest": asdict(ingest) | {"images_per_s": ingest.images / ingest.seconds if ingest.seconds else None},
        "results": results,
        "goals": measured,
    }


def _cell(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(report: dict[str, Any], console: Console) -> None:
    table = Table(title="imgsearch eval: object-level vs whole-image search")
    for column in ("queries", "search", "n", "mAP@100", "R@1", "R@10", "box IoU≥0.5", "p50 ms", "p95 ms"):
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
    for name, goal in report["goals"].items():
        verdict = "[green]met[/green]" if goal["met"] else "[red]missed[/red]"
        console.print(f"goal {name}: {goal['value']:.3f} (goal ≥ {goal['goal']:.2f}) {verdict}")
