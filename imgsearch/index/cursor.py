"""Opaque page cursors: URL-safe base64 of a small JSON value."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from imgsearch.errors import InvalidRequest


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The position a cursor stands for; a cursor we did not make is a client error."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest("the cursor is not one this server handed out") from error
