"""What a tag may be: the one rule the API, the command line and the stores' callers share."""

from __future__ import annotations

import re

TAG_PATTERN = r"^[\w .:/-]+$"
MAX_TAG_LENGTH = 64
MAX_TAGS = 32
_TAG = re.compile(TAG_PATTERN)


def tag_problem(tags: list[str]) -> str | None:
    """Why these tags would be refused, or None when they are fine."""
    if len(tags) > MAX_TAGS:
        return f"at most {MAX_TAGS} tags, not {len(tags)}"
    for tag in tags:
        if not 1 <= len(tag) <= MAX_TAG_LENGTH or not _TAG.fullmatch(tag):
            return f"tag {tag!r}: use 1-{MAX_TAG_LENGTH} letters, digits, spaces or . : / - _"
    return None
