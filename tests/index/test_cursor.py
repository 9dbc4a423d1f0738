"""Page cursors: what the server hands out it takes back; anything else is refused before a store sees it."""

from __future__ import annotations

import pytest

from imgsearch.errors import InvalidRequest
from imgsearch.index.cursor import (
    MAX_CURSOR_CHARS,
    MAX_SEARCH_OFFSET,
    decode_browse_cursor,
    decode_search_cursor,
    encode_browse_cursor,
    encode_cursor,
    encode_search_cursor,
)

IMAGE_ID = "0123456789abcdef" * 4


def test_browse_cursors_round_trip() -> None:
    position = (1_764_576_000_000_000, IMAGE_ID)
    assert decode_browse_cursor(encode_browse_cursor(*position)) == position


@pytest.mark.parametrize("offset", [1, 12, MAX_SEARCH_OFFSET])
def test_search_cursors_round_trip(offset: int) -> None:
    cursor = encode_search_cursor(offset)
    assert cursor is not None and decode_search_cursor(cursor) == offset


def test_no_search_cursor_is_handed_out_past_the_deepest_page() -> None:
    assert encode_search_cursor(MAX_SEARCH_OFFSET + 1) is None
    with pytest.raises(InvalidRequest, match="deep"):
        decode_search_cursor(encode_cursor({"offset": MAX_SEARCH_OFFSET + 1}))


def test_a_cursor_longer_than_any_handed_out_is_refused_unread() -> None:
    longest_real = encode_browse_cursor(2**62 - 1, IMAGE_ID)
    assert len(longest_real) <= MAX_CURSOR_CHARS
    with pytest.raises(InvalidRequest):
        decode_browse_cursor(encode_cursor([[[[0]]]] * 100))


@pytest.mark.parametrize(
    "position", [[1, IMAGE_ID.upper()], [1.0, IMAGE_ID], [False, IMAGE_ID], [2**62, IMAGE_ID], [1], {"offset": 1}]
)
def test_browse_cursors_of_another_shape_are_refused(position: object) -> None:
    with pytest.raises(InvalidRequest):
        decode_browse_cursor(encode_cursor(position))


@pytest.mark.parametrize("position", [{"offset": "1"}, {"offset": None}, {"offset": 1, "k": 3}, [0], 7])
def test_search_cursors_of_another_shape_are_refused(position: object) -> None:
    with pytest.raises(InvalidRequest):
        decode_search_cursor(encode_cursor(position))
