"""Image ids are the sha256 of the original bytes: 64 lowercase hex digits, checked before any store sees one."""

from __future__ import annotations

import re

from imgsearch.errors import InvalidRequest

IMAGE_ID_PATTERN = r"^[0-9a-f]{64}$"
_IMAGE_ID = re.compile(IMAGE_ID_PATTERN)


def is_image_id(value: str) -> bool:
    return _IMAGE_ID.fullmatch(value) is not None


def check_image_id(value: str) -> str:
    """`value` itself when it is a well-formed image id; `InvalidRequest` otherwise (the id is not echoed)."""
    if not is_image_id(value):
        raise InvalidRequest(f"an image id is 64 lowercase hex digits (sha256); got {len(value)} characters")
    return value
