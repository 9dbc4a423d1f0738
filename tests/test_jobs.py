"""JobManager's own logic with a stand-in ingestor (no models, no servers): when a job optimises the index."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import cast

import pytest

from imgsearch.index.types import ImageDocument
from imgsearch.ingest import Ingestor, IngestResult
from imgsearch.job_store import MemoryJobStore
from imgsearch.jobs import Job, JobManager, JobState


class StandInIndex:
    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.optimized = 0

    def optimize(self) -> str:
        self.optimized += 1
        if self.fails:
            raise RuntimeError("merge refused")
        return "3 segments merged into 1 in 0 s"


class StandInIngestor:
    """Reports each source as new unless its name starts with "dup"."""

    def __init__(self, index: StandInIndex) -> None:
        self.index = index

    def ingest_many(
        self, sources: Iterable[tuple[str, Callable[[], bytes]]], tags: tuple[str, ...] = (), batch_size: int = 8
    ) -> Iterator[tuple[str, IngestResult | Exception]]:
        for name, _ in sources:
            document = ImageDocument(name, 1, 1, "image/jpeg", 1, "m", name, datetime.now(UTC))
            yield name, IngestResult(document, duplicate=name.startswith("dup"))


def run_job(index: StandInIndex, names: list[str], optimize_after: int) -> Job:
    manager = JobManager(cast(Ingestor, StandInIngestor(index)), MemoryJobStore(), optimize_after=optimize_after)
    job = manager.start("sync", [(name, lambda: b"") for name in names])
    deadline = time.monotonic() + 10
    while job.state in (JobState.QUEUED, JobState.RUNNING) and time.monotonic() < deadline:
        time.sleep(0.01)
    return job


@pytest.mark.parametrize(
    ("names", "optimize_after", "runs"),
    [
        (["a", "b", "c"], 3, 1),  # three added: at the threshold
        (["a", "b", "dup-c"], 3, 0),  # duplicates are not added images
        (["a", "b", "c"], 0, 0),  # 0 turns it off
    ],
)
def test_a_job_optimises_only_after_adding_enough_images(names: list[str], optimize_after: int, runs: int) -> None:
    index = StandInIndex(fails=False)
    job = run_job(index, names, optimize_after)
    assert job.state is JobState.DONE
    assert index.optimized == runs
    assert job.optimized == ("3 segments merged into 1 in 0 s" if runs else None)


def test_a_failed_merge_is_reported_and_the_job_still_succeeds() -> None:
    index = StandInIndex(fails=True)
    job = run_job(index, ["a", "b"], 1)
    assert job.state is JobState.DONE and job.optimized is None
    assert job.errors == [("optimize", "optimize_failed", "merge refused")]
