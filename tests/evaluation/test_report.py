"""The eval report: per-kind, per-mode means and the issue's goals computed from query outcomes."""

from __future__ import annotations

import pytest

from imgsearch.evaluation.report import build_report
from imgsearch.evaluation.run import IngestOutcome, QueryOutcome


def _outcome(
    kind: str, mode: str, ap: float, r1: float, ious: list[float], seconds: float = 0.1, objects: int = 1,
    per_result: tuple[int, ...] = (1,),
) -> QueryOutcome:  # fmt: skip
    return QueryOutcome(f"q-{kind}-{mode}-{ap}", kind, mode, ap, r1, 1.0, seconds, ious,  # type: ignore[arg-type]
                        page_seconds=seconds / 2, query_objects=objects,
                        matches_per_result=list(per_result))  # fmt: skip


def test_report_means_per_kind_and_mode_and_checks_the_goals() -> None:
    outcomes = [
        _outcome("object", "object", 1.0, 1.0, [0.9, 0.4]),
        _outcome("object", "object", 0.8, 0.0, [0.6, 0.7], seconds=0.3),
        _outcome("object", "whole-image", 0.5, 0.0, []),
        _outcome("object", "whole-image", 0.3, 1.0, []),
        _outcome("object", "upload-only", 0.9, 1.0, [0.9], seconds=0.5, objects=1, per_result=(1, 3)),
        _outcome("object", "upload-only", 0.7, 1.0, [0.9], seconds=0.7, objects=2, per_result=(2, 2)),
    ]
    report = build_report({}, IngestOutcome(4, 2.0, 0.75, 3.0), outcomes, 0.5)
    by_object = report["results"]["object/object"]
    assert by_object["map_at_100"] == pytest.approx(0.9)
    assert by_object["recall_at_1"] == pytest.approx(0.5)
    assert by_object["box_iou_share"] == pytest.approx(0.75)
    assert by_object["latency_ms_p50"] == pytest.approx(200.0)
    assert report["results"]["object/whole-image"]["box_iou_share"] is None
    goals = report["goals"]
    assert goals["object_query_map"] == {"value": pytest.approx(0.9), "goal": 0.8, "met": True}
    assert goals["map_gain_over_whole_image"]["value"] == pytest.approx(0.5)
    assert goals["relevant_hits_box_iou_share"]["met"] is False
    assert report["ingest"]["images_per_s"] == pytest.approx(2.0)
    assert goals["upload_only_map_gap"] == {"value": pytest.approx(0.1), "goal": 0.05, "at_most": True, "met": False}
    assert goals["click_latency_ratio"]["value"] == pytest.approx(200.0 / 600.0)
    assert goals["click_latency_ratio"]["met"] is True
    assert report["results"]["object/upload-only"]["query_objects_median"] == pytest.approx(1.5)
    assert report["results"]["object/upload-only"]["matches_per_result_median"] == pytest.approx(2.0)
    assert goals["query_objects_median"]["met"] is False
