"""Which matched boxes a result should show: gaps between each result's best match and its further matches.

Ingests a SceneBench split (starter models, embedded index), clicks every object query's object (the box that
overlaps its identity most) with `all_matches`, and counts, for each margin, the share of further matches kept
that show the query identity (IoU >= 0.5 with one of its instances) and of those that do not, and the matched
boxes per result that `imgsearch.relevant_matches` would show.

    .venv/bin/python bench/match_margin.py --split train --seed 11
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from imgsearch.core import opened_core
from imgsearch.evaluation.metrics import box_iou
from imgsearch.evaluation.run import ingest_gallery
from imgsearch.relevant_matches import relevant_matches
from imgsearch.scenebench import SceneConfig, generate
from imgsearch.search import SearchOptions
from imgsearch.settings import Settings
from pipeline.records import ObjectKind

MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["train", "test"], default="train")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    bench = generate(args.seed, 300, split=args.split, config=SceneConfig(train_only_identities=False),
                     n_object_queries=100)  # fmt: skip
    gaps: dict[bool, list[float]] = {True: [], False: []}
    shown: dict[float, list[int]] = {margin: [] for margin in MARGINS}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(models="starter", es_url=None, s3_endpoint=None, data_dir=Path(folder))
        with opened_core(settings) as core:
            scene_of, _ = ingest_gallery(bench, core.ingestor, args.split, 0.5, lambda: None)
            scenes = {scene.scene_id: scene for scene in bench.scenes(args.split)}  # type: ignore[arg-type]
            for query in (q for q in bench.queries if q.split == args.split and q.relevant_scene_ids):
                first = core.searcher.by_bytes(query.jpeg_bytes, SearchOptions(k=100))
                truth = query.composition.visible_box(0)
                overlaps = [box_iou(obj.box.as_list(), truth) for obj in first.query.objects]
                objects = (int(np.argmax(overlaps)),) if overlaps and max(overlaps) > 0 else ()
                options = SearchOptions(k=100, objects=objects, target="auto" if objects else "image",
                                        kinds=(ObjectKind.OBJECT,), all_matches=True)  # fmt: skip
                clicked = core.searcher.by_query_id(str(first.query.query_id), options)
                for hit in clicked.page.hits:
                    instances = [
                        i.box for i in scenes[scene_of[hit.image_id]].instances if i.identity == query.identity
                    ]
                    for match in hit.matches[1:]:
                        shows_it = any(box_iou(match.box.as_list(), box) >= 0.5 for box in instances)
                        gaps[shows_it].append(hit.matches[0].similarity - match.similarity)
                    for margin in MARGINS:
                        shown[margin].append(len(relevant_matches(list(hit.matches), margin)))
    same, other = np.asarray(gaps[True]), np.asarray(gaps[False])
    table = Table(title=f"further matches: {len(same)} show the query identity, {len(other)} do not")
    for column in ("margin", "kept: identity", "kept: other", "boxes per result: median", "mean"):
        table.add_column(column, justify="right")
    for margin in MARGINS:
        table.add_row(f"{margin:.2f}", f"{np.mean(same <= margin):.3f}", f"{np.mean(other <= margin):.3f}",
                      f"{np.median(shown[margin]):.0f}", f"{np.mean(shown[margin]):.2f}")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
