"""Page arithmetic both back ends share: how many results a search page asks for, and where the next starts."""

from __future__ import annotations

from imgsearch.index.cursor import MAX_SEARCH_OFFSET
from imgsearch.index.types import VectorQuery


def wanted(query: VectorQuery) -> int:
    """Images to rank for this page: those before it, its own, and one more that says whether a next page exists."""
    return query.offset + query.k + 1


def next_offset(query: VectorQuery, ranked_from_offset: int) -> int | None:
    """Where the next page starts, given how many images were ranked at or after this page's offset; None when
    this is the last page, or the next would start deeper than search pages go."""
    following = query.offset + query.k
    return following if ranked_from_offset > query.k and following <= MAX_SEARCH_OFFSET else None
