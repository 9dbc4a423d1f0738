"""`imgsearch search IMAGE`: the API's search from the command line, as a table or one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from imgsearch.core import opened_core
from imgsearch.errors import ImgsearchError, InvalidRequest
from imgsearch.index.types import ImageHit
from imgsearch.search import SearchOptions, SearchOutcome
from imgsearch.settings import Settings
from pipeline.errors import ImageRejected
from pipeline.records import Box


def _box(text: str) -> Box:
    try:
        x1, y1, x2, y2 = (float(part) for part in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"a box is x1,y1,x2,y2 in image pixels, not {text!r}") from error
    if not (x1 < x2 and y1 < y2):
        raise argparse.ArgumentTypeError(f"a box needs x1 < x2 and y1 < y2, not {text!r}")
    return Box(x1, y1, x2, y2)


def _query_bytes(path: Path, settings: Settings) -> bytes:
    if not path.is_file():
        raise InvalidRequest(f"{path} is not a file")
    if path.stat().st_size > settings.max_upload_bytes:
        raise InvalidRequest(f"{path} is larger than IMGSEARCH_MAX_UPLOAD_BYTES ({settings.max_upload_bytes} bytes)")
    return path.read_bytes()


def run_search(args: argparse.Namespace) -> int:
    settings = Settings()
    options = SearchOptions(
        k=args.k,
        objects=tuple(args.object or ()),
        boxes=tuple(args.box or ()),
        target=args.target,
        tags=tuple(args.tag or ()),
        all_matches=args.all_matches,
    )
    data = _query_bytes(Path(args.image), settings)
    with opened_core(settings) as core:
        try:
            outcome = core.searcher.by_bytes(data, options)
        except ImageRejected as error:
            raise InvalidRequest(f"{args.image}: {error.message}") from error
        sources = {hit.image_id: _source(core.index.get(hit.image_id)) for hit in outcome.page.hits}
    if args.json:
        print(json.dumps(_as_json(outcome, sources)))
    else:
        _print_table(outcome, sources, Console() if sys.stdout.isatty() else Console(width=160))
    return 0


def _source(document: Any) -> str:
    return document.source if document is not None else "?"


def _described_parts(outcome: SearchOutcome) -> str:
    described = []
    for part in outcome.query.parts:
        what = f"object {part.object}" if part.kind == "object" else part.kind
        chosen = ", chosen automatically" if part.auto else ""
        box = ", ".join(f"{value:.0f}" for value in part.box.as_list())
        described.append(f"{what} ({part.label}{chosen}) at [{box}]")
    return " AND ".join(described)


def _matches_text(hit: ImageHit) -> str:
    return "; ".join(
        f"{match.label} {match.similarity:.2f} [{', '.join(f'{v:.0f}' for v in match.box.as_list())}]"
        for match in hit.matches
    )


def _print_table(outcome: SearchOutcome, sources: dict[str, str], console: Console) -> None:
    query = outcome.query
    console.print(f"searched with {_described_parts(outcome)}; the query has {len(query.objects)} objects")
    table = Table()
    for column in ("#", "id", "source", "similarity", "matched boxes"):
        table.add_column(column, justify="right" if column in ("#", "similarity") else "left")
    for rank, hit in enumerate(outcome.page.hits, start=1):
        table.add_row(str(rank), hit.image_id[:12], sources[hit.image_id], f"{hit.similarity:.3f}", _matches_text(hit))
    console.print(table)


def _as_json(outcome: SearchOutcome, sources: dict[str, str]) -> dict[str, Any]:
    """The API's response shape (ids in full), plus each result's source."""
    query = outcome.query
    return {
        "query": {
            "width": query.width,
            "height": query.height,
            "objects": [{"bbox": o.box.as_list(), "label": o.label, "score": round(o.score, 4)} for o in query.objects],
            "parts": [
                {"kind": p.kind, "bbox": p.box.as_list(), "label": p.label, "object": p.object, "auto": p.auto}
                for p in query.parts
            ],
        },
        "results": [
            {
                "id": hit.image_id,
                "source": sources[hit.image_id],
                "similarity": round(hit.similarity, 4),
                "matches": [
                    {"bbox": m.box.as_list(), "label": m.label, "similarity": round(m.similarity, 4), "part": m.part}
                    for m in hit.matches
                ],
            }
            for hit in outcome.page.hits
        ],
    }


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "search", help="search the index with an image file: its main object, chosen objects, boxes, or all of it"
    )
    parser.add_argument("image", help="the query image file")
    parser.add_argument("--object", type=int, action="append", help="a detected object (0-based); repeat for AND")
    parser.add_argument("--box", type=_box, action="append", help="x1,y1,x2,y2 in image pixels; repeat for AND")
    parser.add_argument("--target", choices=["auto", "image"], default="auto", help="'image': the whole image")
    parser.add_argument("--tag", action="append", help="only images with this tag; repeat for several")
    parser.add_argument("-k", type=int, default=12, help="results (1-100)")
    parser.add_argument("--all-matches", action="store_true", help="every matched box, not only those that matter")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_checked(run_search))


def _checked(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        if not 1 <= args.k <= 100:
            raise ImgsearchError(f"-k must be between 1 and 100, not {args.k}")
        return int(handler(args))

    return run
