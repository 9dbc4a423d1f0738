"""Page cursors: what the server hands out it takes back; anything else is refused before a store sees it."""

from __future__ import annotations

import numpy as np
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
    assert decode_browse_cursor(encode_browse_cursor("embedded", *position), "embedded") == position


def test_a_browse_cursor_of_another_back_end_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        decode_browse_cursor(encode_browse_cursor("elasticsearch", 1, IMAGE_ID), "embedded")


@pytest.mark.parametrize("offset", [1, 12, MAX_SEARCH_OFFSET])
def test_search_cursors_round_trip(offset: int) -> None:
    assert decode_search_cursor(encode_search_cursor(offset)) == offset


def test_a_search_cursor_past_the_deepest_page_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="deep"):
        decode_search_cursor(encode_cursor({"offset": MAX_SEARCH_OFFSET + 1}))


def test_a_cursor_longer_than_any_handed_out_is_refused_unread() -> None:
    longest_real = encode_browse_cursor("elasticsearch", 2**62 - 1, IMAGE_ID)
    assert len(longest_real) <= MAX_CURSOR_CHARS
    with pytest.raises(InvalidRequest):
        decode_browse_cursor(encode_cursor([[[[0]]]] * 100), "embedded")


@pytest.mark.parametrize(
    "position",
    [
        ["embedded", 1, IMAGE_ID.upper()],
        ["embedded", 1.0, IMAGE_ID],
        ["embedded", False, IMAGE_ID],
        ["embedded", 2**62, IMAGE_ID],
        ["embedded", -1, IMAGE_ID],
        [1, IMAGE_ID],
        ["embedded"],
        {"offset": 1},
    ],
)
def test_browse_cursors_of_another_shape_are_refused(position: object) -> None:
    with pytest.raises(InvalidRequest):
        decode_browse_cursor(encode_cursor(position), "embedded")


@pytest.mark.parametrize("position", [{"offset": "1"}, {"offset": None}, {"offset": 1, "k": 3}, [0], 7])
def test_search_cursors_of_another_shape_are_refused(position: object) -> None:
    with pytest.raises(InvalidRequest):
        decode_search_cursor(encode_cursor(position))


def test_the_last_page_before_the_depth_limit_hands_out_no_cursor() -> None:
    from imgsearch.index.paging import next_offset
    from imgsearch.index.types import VectorQuery

    def query(offset: int) -> VectorQuery:
        return VectorQuery(vector=np.zeros(2, np.float32), model_id="m", k=10, offset=offset)

    assert next_offset(query(0), ranked_from_offset=11) == 10
    assert next_offset(query(0), ranked_from_offset=10) is None, "exactly one page: no next"
    assert next_offset(query(MAX_SEARCH_OFFSET - 10), ranked_from_offset=11) == MAX_SEARCH_OFFSET
    assert next_offset(query(MAX_SEARCH_OFFSET - 5), ranked_from_offset=11) is None
