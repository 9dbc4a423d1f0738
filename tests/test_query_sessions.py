"""The query session cache: unguessable ids, bounded by entries, bytes and idle time, expired vs unknown."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from imgsearch.query_sessions import QUERY_ID_PATTERN, QueryExpired, QueryNotFound, QuerySessions
from pipeline.decode import DecodedImage, ModelView
from pipeline.runner import AnalyzedImage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def analyzed(side: int = 100, view_side: int | None = None) -> AnalyzedImage:
    original = Image.new("RGB", (side, side))
    view = Image.new("RGB", (view_side, view_side)) if view_side else original
    decoded = DecodedImage("0" * 64, original, side, side, "image/jpeg", 1000, view_side or side)
    empty = np.zeros((0, 4), np.float32)
    return AnalyzedImage(decoded, ModelView(view, side / (view_side or side)), empty, empty, np.zeros(0), [])


def test_ids_are_random_and_well_formed() -> None:
    sessions = QuerySessions(10, 10**8, 60)
    ids = {sessions.start(analyzed()).query_id for _ in range(20)}
    assert len(ids) == 20 and all(re.fullmatch(QUERY_ID_PATTERN, query_id) for query_id in ids)


def test_only_the_models_view_is_kept() -> None:
    sessions = QuerySessions(10, 10**8, 60)
    session = sessions.start(analyzed(side=2000, view_side=200))
    assert session.analyzed.decoded.image.size == (200, 200)
    assert (session.analyzed.decoded.width, session.analyzed.decoded.height) == (2000, 2000)
    assert session.size_bytes < 200 * 200 * 3 * 1.1


def test_the_least_recently_used_goes_first_when_entries_run_out() -> None:
    sessions = QuerySessions(2, 10**8, 60)
    first, second = sessions.start(analyzed()), sessions.start(analyzed())
    sessions.get(first.query_id)  # first is now the most recent
    sessions.start(analyzed())
    assert sessions.get(first.query_id) is first
    with pytest.raises(QueryExpired):
        sessions.get(second.query_id)
    assert len(sessions) == 2


def test_bytes_bound_the_cache_and_a_too_large_image_is_not_kept() -> None:
    one = 100 * 100 * 3
    sessions = QuerySessions(100, int(one * 2.5), 60)
    kept = [sessions.start(analyzed()) for _ in range(3)]
    assert len(sessions) == 2 and sessions.size_bytes() <= one * 2.5
    with pytest.raises(QueryExpired):
        sessions.get(kept[0].query_id)
    huge = sessions.start(analyzed(side=200))
    with pytest.raises(QueryNotFound):
        sessions.get(huge.query_id)


def test_idle_sessions_expire() -> None:
    clock = Clock()
    sessions = QuerySessions(10, 10**8, ttl_s=60, clock=clock)
    session = sessions.start(analyzed())
    clock.now = 59
    assert sessions.get(session.query_id) is session  # use renews it
    clock.now = 118
    assert sessions.get(session.query_id) is session
    clock.now = 179
    with pytest.raises(QueryExpired, match="search with the image again"):
        sessions.get(session.query_id)


def test_an_unknown_id_is_not_found() -> None:
    with pytest.raises(QueryNotFound):
        QuerySessions(10, 10**8, 60).get("q_" + "x" * 22)


def test_vectors_are_computed_once_per_part() -> None:
    session = QuerySessions(10, 10**8, 60).start(analyzed())
    calls: list[int] = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.ones(4, np.float32)

    before = session.size_bytes
    first = session.vector(("object", 0), compute)
    assert session.vector(("object", 0), compute) is first and len(calls) == 1
    session.vector(("object", 1), compute)
    assert len(calls) == 2 and session.size_bytes == before + 2 * 16
