"""Prometheus metrics: per-stage latency histograms and request counters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

STAGES = ("decode", "detect", "embed", "knn", "storage", "fetch")
# From a cache-warm kNN (a few ms) to a cold 40 MP decode plus detection on a CPU (seconds).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

STAGE_SECONDS = Histogram(
    "imgsearch_stage_seconds", "Time spent in each pipeline and storage stage", ["stage"], buckets=STAGE_BUCKETS
)
REQUESTS = Counter("imgsearch_http_requests_total", "HTTP requests by route and status", ["route", "status"])
REJECTED = Counter("imgsearch_saturated_total", "Requests answered 503 because the model queue was full")
QUERY_SESSION_LOOKUPS = Counter(
    "imgsearch_query_session_lookups_total", "Searches by query_id: found, expired, or unknown", ["outcome"]
)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    with STAGE_SECONDS.labels(stage).time():
        yield
