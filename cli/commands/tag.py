"""`imgsearch tag ID [TAG ...]`: set an indexed image's tags (none: clear them), as PATCH /api/v1/images/{id}."""

from __future__ import annotations

import argparse
import re

from imgsearch.backends import build_index
from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.ids import IMAGE_ID_PATTERN
from imgsearch.settings import Settings
from imgsearch.tags import tag_problem


def run_tag(args: argparse.Namespace) -> int:
    if not re.match(IMAGE_ID_PATTERN, args.image_id):
        raise InvalidRequest(f"{args.image_id!r} is not an image id (64 hex digits)")
    tags = list(dict.fromkeys(args.tags))
    problem = tag_problem(tags)
    if problem:
        raise InvalidRequest(problem)
    index = build_index(Settings())
    try:
        document = index.set_tags(args.image_id, tags)
    finally:
        index.close()
    if document is None:
        raise NotFound(f"no indexed image {args.image_id}")
    print(f"{document.image_id}: {', '.join(document.tags) if document.tags else 'no tags'}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("tag", help="set an indexed image's tags (give none to clear them)")
    parser.add_argument("image_id", help="the image's id (sha256 of its bytes)")
    parser.add_argument("tags", nargs="*", help="the new tags, replacing the old ones")
    parser.set_defaults(handler=run_tag)
