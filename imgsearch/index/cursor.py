"""Opaque page cursors: URL-safe base64 of a small JSON value, validated for shape, types and bounds on the way in.

A cursor comes back from a client, so it is read like any other input: bounded in length before decoding and
checked against the one shape this server hands out, so no store ever sees a value it did not produce the like of.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from imgsearch.errors import InvalidRequest
from imgsearch.ids import is_image_id

MAX_CURSOR_CHARS = 256
# Pages of similarity search go this deep and no further: Elasticsearch caps k and num_candidates at 10,000,
# and nobody pages through thousands of near matches. The last page hands out no cursor past it.
MAX_SEARCH_OFFSET = 5_000
# Browse positions are microseconds (embedded) or milliseconds (Elasticsearch) since 1970: far below 2**62.
MAX_SORT_VALUE = 2**62

_NOT_OURS = "the cursor is not one this server handed out"


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidRequest(_NOT_OURS)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError, RecursionError) as error:
        raise InvalidRequest(_NOT_OURS) from error


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode_search_cursor(offset: int) -> str:
    """The cursor of the search page at `offset` (the index hands out none deeper than MAX_SEARCH_OFFSET)."""
    return encode_cursor({"offset": offset})


def decode_search_cursor(cursor: str) -> int:
    """The result offset a search cursor stands for."""
    position = _decode(cursor)
    if not (isinstance(position, dict) and position.keys() == {"offset"} and _is_int(position["offset"])):
        raise InvalidRequest(_NOT_OURS)
    offset: int = position["offset"]
    if not 0 <= offset <= MAX_SEARCH_OFFSET:
        raise InvalidRequest(f"search pages go {MAX_SEARCH_OFFSET} results deep; the cursor asks for {offset}")
    return offset


def encode_browse_cursor(backend: str, sort_value: int, image_id: str) -> str:
    """A browse position, tagged with the back end whose sort values it holds."""
    return encode_cursor([backend, sort_value, image_id])


def decode_browse_cursor(cursor: str, backend: str) -> tuple[int, str]:
    """The (sort value, image id) after which the next browse page starts; a cursor of another back end (whose
    sort values mean something else) is refused like a forged one."""
    position = _decode(cursor)
    if not (
        isinstance(position, list)
        and len(position) == 3
        and position[0] == backend
        and _is_int(position[1])
        and 0 <= position[1] < MAX_SORT_VALUE
        and isinstance(position[2], str)
        and is_image_id(position[2])
    ):
        raise InvalidRequest(_NOT_OURS)
    return position[1], position[2]
