"""Which matched boxes a result shows by default."""

from __future__ import annotations

from imgsearch.index.types import ImageHit, Match, SearchPage
from imgsearch.relevant_matches import relevant_matches, relevant_page
from pipeline.records import Box, ObjectKind


def match(similarity: float, box: tuple[float, float, float, float], part: int = 0, index: int = 1) -> Match:
    return Match(index, ObjectKind.OBJECT, "object", Box(*box), similarity, part)


def test_the_best_and_those_close_to_it_are_kept() -> None:
    matches = [match(0.5, (300, 0, 400, 100)), match(0.8, (0, 0, 100, 100)), match(0.72, (150, 0, 250, 100))]
    assert [m.similarity for m in relevant_matches(matches, margin=0.1)] == [0.8, 0.72]
    assert [m.similarity for m in relevant_matches(matches, margin=0.0)] == [0.8]


def test_a_second_box_around_a_kept_object_is_dropped() -> None:
    matches = [match(0.8, (0, 0, 100, 100)), match(0.79, (5, 5, 100, 100)), match(0.78, (200, 0, 300, 100))]
    assert [m.box.x1 for m in relevant_matches(matches, margin=0.1)] == [0, 200]


def test_each_part_of_an_and_query_keeps_its_own_best() -> None:
    hit = ImageHit("a" * 64, 0.6, 640, 480, (
        match(0.9, (0, 0, 100, 100), part=0), match(0.3, (0, 200, 100, 300), part=0),
        match(0.4, (200, 0, 300, 100), part=1), match(0.2, (400, 0, 500, 100), part=1),
    ))  # fmt: skip
    kept = relevant_page(SearchPage([hit], None), margin=0.1).hits[0].matches
    assert [(m.part, m.similarity) for m in kept] == [(0, 0.9), (1, 0.4)]
