"""Reading Java's version banner, which decides whether the machine's JDK can run Elasticsearch."""

from __future__ import annotations

import pytest

from imgsearch.devservices.jdk import MIN_JAVA_MAJOR, parse_java_major


@pytest.mark.parametrize(
    ("banner", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "25.0.2" 2026-01-20 LTS', 25),
        ('java version "1.8.0_412"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no banner at all", None),
    ],
)
def test_parse_java_major(banner: str, major: int | None) -> None:
    assert parse_java_major(banner) == major


def test_minimum_is_what_elasticsearch_9_needs() -> None:
    assert MIN_JAVA_MAJOR == 21
