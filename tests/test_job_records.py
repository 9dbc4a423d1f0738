"""Durable job records: stored by the back end, read as interrupted when their process is gone, resumed from
the first source without a recorded result, cancelled."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from imgsearch.errors import NotFound
from imgsearch.index.types import ImageDocument
from imgsearch.ingest import Ingestor, IngestResult
from imgsearch.job_store import ElasticsearchJobStore, JobStore, MemoryJobStore, SqliteJobStore
from imgsearch.jobs import Job, JobManager, JobNotResumable, JobState


class RecordingIngestor:
    """Ingests nothing: reports each source as added, remembers which it saw, and can be held at a gate."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.seen: list[str] = []
        self.gate = gate
        self.index = None

    def ingest_many(
        self, sources: Iterable[tuple[str, Callable[[], bytes]]], tags: tuple[str, ...] = (), batch_size: int = 8
    ) -> Iterator[tuple[str, IngestResult | Exception]]:
        for name, _ in sources:
            if self.gate is not None:
                self.gate.wait(10)
            self.seen.append(name)
            yield name, IngestResult(ImageDocument(name, 1, 1, "image/jpeg", 1, "m", name, datetime.now(UTC)), False)


def sources(count: int) -> list[tuple[str, Callable[[], bytes]]]:
    return [(f"s{n:02d}", lambda: b"") for n in range(count)]


def finished(manager: JobManager, job_id: str) -> Job:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = manager.get(job_id)
        if job.state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.integration)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], JobStore]]:
    """A factory that opens the same records again, as a restarted process would."""
    if request.param == "sqlite":
        opened: list[JobStore] = []

        def open_sqlite() -> JobStore:
            opened.append(SqliteJobStore(tmp_path / "jobs.sqlite3"))
            return opened[-1]

        yield open_sqlite
        for store in opened:
            store.close()
        return
    es = request.getfixturevalue("es")
    alias = f"test-jobs-{uuid.uuid4().hex[:10]}"
    yield lambda: ElasticsearchJobStore(es, alias)
    es.indices.delete(index=alias + "-jobs", ignore_unavailable=True)


def test_records_outlive_the_process_newest_first(open_store: Callable[[], JobStore]) -> None:
    store = open_store()
    older = Job("a" * 32, "sync s3://photos/", spec={"bucket": "photos", "prefix": ""}, tags=("x",),
                created_at=datetime.now(UTC) - timedelta(hours=1))  # fmt: skip
    newer = Job("b" * 32, "sync folder /srv/p", spec={"folder": "/srv/p"}, total=10, done=4,
                errors=[("file:///srv/p/x.jpg", "corrupt", "cut short")])  # fmt: skip
    for job in (older, newer):
        store.save(job)
    newer.done = 6
    newer.state, newer.finished_at = JobState.DONE, datetime.now(UTC)
    store.save(newer)
    reopened = open_store()
    assert [job.id for job in reopened.newest(10)] == [newer.id, older.id]
    again = reopened.get(newer.id)
    assert again is not None and again.as_dict() == newer.as_dict()
    assert reopened.get("c" * 32) is None


def test_a_running_job_nobody_saves_reads_as_interrupted_and_resumes_after_its_last_result(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    crashed = Job("d" * 32, "sync", spec={"bucket": "b"}, state=JobState.RUNNING, total=5, done=2,
                  updated_at=datetime.now(UTC) - timedelta(minutes=5))  # fmt: skip
    store.save(crashed)
    ingestor = RecordingIngestor()
    manager = JobManager(cast(Ingestor, ingestor), store)
    assert manager.get(crashed.id).seen_state(datetime.now(UTC)) is JobState.INTERRUPTED
    assert [job.id for job in manager.newest()] == [crashed.id]
    manager.resume(crashed.id, sources(5))
    job = finished(manager, crashed.id)
    assert ingestor.seen == ["s02", "s03", "s04"]  # nothing recorded is done again, nothing unrecorded skipped
    assert (job.state, job.done, job.total) == (JobState.DONE, 5, 5)
    assert store.get(crashed.id).state is JobState.DONE
    with pytest.raises(JobNotResumable, match="only an interrupted job"):
        manager.resume(crashed.id, sources(5))
    with pytest.raises(NotFound):
        manager.resume("e" * 32, sources(1))


def test_a_running_job_is_cancelled_after_the_batch_in_flight() -> None:
    gate = threading.Event()
    store = MemoryJobStore()
    manager = JobManager(cast(Ingestor, RecordingIngestor(gate)), store)
    job = manager.start("sync", sources(50), spec={"bucket": "b"})
    manager.cancel(job.id)
    gate.set()
    job = finished(manager, job.id)
    assert job.state is JobState.CANCELLED and job.done < 50
    assert store.get(job.id).state is JobState.CANCELLED
    with pytest.raises(JobNotResumable, match="already cancelled"):
        manager.cancel(job.id)


def test_an_interrupted_job_can_be_cancelled_without_running() -> None:
    store = MemoryJobStore()
    store.save(Job("f" * 32, "sync", state=JobState.RUNNING, updated_at=datetime.now(UTC) - timedelta(minutes=5)))
    manager = JobManager(cast(Ingestor, RecordingIngestor()), store)
    assert manager.cancel("f" * 32).state is JobState.CANCELLED
    assert store.get("f" * 32).state is JobState.CANCELLED


def test_progress_is_saved_while_a_job_runs() -> None:
    gate = threading.Event()
    store = MemoryJobStore()
    manager = JobManager(cast(Ingestor, RecordingIngestor(gate)), store)
    job = manager.start("sync", sources(3))
    assert store.get(job.id) is not None  # saved before it runs, so a crash right away leaves a record
    gate.set()
    finished(manager, job.id)
    stored = store.get(job.id)
    assert stored is not None and (stored.state, stored.done, stored.finished_at is not None) == (
        JobState.DONE,
        3,
        True,
    )


def test_a_process_shutting_down_leaves_its_job_to_be_resumed() -> None:
    gate = threading.Event()
    store = MemoryJobStore()
    ingestor = RecordingIngestor(gate)
    manager = JobManager(cast(Ingestor, ingestor), store)
    job = manager.start("sync", sources(30), spec={"bucket": "b"})
    threading.Timer(0.2, gate.set).start()
    manager.stop(wait_s=10)
    stored = store.get(job.id)
    assert stored is not None and stored.state is JobState.INTERRUPTED and stored.done < 30
    again = JobManager(cast(Ingestor, RecordingIngestor()), store)
    again.resume(job.id, sources(30))
    assert finished(again, job.id).done == 30
