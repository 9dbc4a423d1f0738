"""How many objects a query offers, whether the one asked about is among them, and which rule picks it.

For every SceneBench query of a split: the detections as the searcher gets them (starter models, query
augmentation), before and after `pipeline.query_objects.merged`, whether a box still covers the query identity at
IoU >= 0.5, and how often each main-object rule picks such a box. Choose rules on the train split.

    .venv/bin/python bench/query_objects.py --split train --seed 11
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from imgsearch.evaluation.metrics import box_iou
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.scenebench import SceneConfig, generate
from imgsearch.settings import Settings
from pipeline.query_objects import main_object, merged
from pipeline.runner import AnalyzedImage


def _covers(analyzed: AnalyzedImage, truth: tuple[int, int, int, int], position: int | None = None) -> bool:
    boxes = analyzed.boxes_xyxy if position is None else analyzed.boxes_xyxy[[position]]
    return any(box_iou(box.tolist(), truth) >= 0.5 for box in boxes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["train", "test"], default="train")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--object-queries", type=int, default=100)
    parser.add_argument("--scene-queries", type=int, default=50)
    args = parser.parse_args()
    bench = generate(args.seed, 300, split=args.split, config=SceneConfig(train_only_identities=False),
                     n_object_queries=args.object_queries, n_scene_queries=args.scene_queries)  # fmt: skip
    pipeline = build_pipeline(Settings(models="starter", es_url=None, s3_endpoint=None))
    pipeline.load()
    rows: dict[str, dict[str, list[float]]] = {}
    for query in bench.queries:
        truth = query.composition.visible_box(0)
        raw = pipeline.analyze(query.jpeg_bytes, for_query=True)
        folded = merged(raw)
        width, height = raw.decoded.width, raw.decoded.height
        row = rows.setdefault(query.kind, {})
        for name, value in {
            "boxes before": len(raw.scores),
            "boxes after": len(folded.scores),
            "covered before": _covers(raw, truth),
            "covered after": _covers(folded, truth),
            **{
                f"main by {rule}": main is not None and _covers(folded, truth, main)
                for rule in ("score", "prominence")
                for main in [main_object(folded.scores, folded.boxes_xyxy, width, height, rule)]  # type: ignore[arg-type]
            },
        }.items():
            row.setdefault(name, []).append(float(value))
    table = Table(title=f"query objects, {args.split} split, seed {args.seed}")
    table.add_column("measure")
    for kind in rows:
        table.add_column(f"{kind} queries", justify="right")
    for name in next(iter(rows.values())):
        cells = []
        for row in rows.values():
            values = np.asarray(row[name])
            cells.append(f"median {np.median(values):.0f}, mean {values.mean():.2f}" if name.startswith("boxes")
                         else f"{values.mean():.3f}")  # fmt: skip
        table.add_row(name, *cells)
    Console().print(table)


if __name__ == "__main__":
    main()
