"""Background sync jobs: ingest every image under a bucket prefix (or an allowed server folder).

Jobs are idempotent rather than checkpointed: images already indexed are recognised by their hash and skip the
models, so running the same sync again after a restart continues where the last one stopped. A job that added many
images optimises the index after it (`VectorIndex.optimize`: one segment on Elasticsearch, cheaper searches).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from minio import Minio

from imgsearch.errors import ImgsearchError, InvalidRequest, NotFound
from imgsearch.ingest import Ingestor, IngestResult
from imgsearch.storage.minio_store import minio_outages

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MAX_REPORTED_ERRORS = 50

Source = tuple[str, Callable[[], bytes]]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Job:
    id: str
    kind: str
    state: JobState = JobState.QUEUED
    total: int | None = None
    done: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    optimized: str | None = None  # what the index's optimize() said, when the job ran it

    @property
    def added(self) -> int:
        return self.done - self.duplicates - self.failed

    def record(self, source: str, outcome: IngestResult | Exception) -> None:
        if isinstance(outcome, Exception):
            self.failed += 1
            if len(self.errors) < MAX_REPORTED_ERRORS:
                code = getattr(outcome, "code", type(outcome).__name__)
                self.errors.append((source, str(getattr(code, "value", code)), str(outcome)))
        elif outcome.duplicate:
            self.duplicates += 1
        self.done += 1


def bucket_sources(client: Minio, bucket: str, prefix: str) -> list[Source]:
    """Readers for every image-looking object under the prefix (listed up front, so the job knows its total)."""

    def reader(key: str) -> Callable[[], bytes]:
        def read() -> bytes:
            with minio_outages():
                response = client.get_object(bucket, key)
                try:
                    return response.read()
                finally:
                    response.close()
                    response.release_conn()

        return read

    with minio_outages():
        if not client.bucket_exists(bucket):
            raise NotFound(f"no bucket {bucket}")
        keys = [
            item.object_name
            for item in client.list_objects(bucket, prefix=prefix or None, recursive=True)
            if item.object_name and item.object_name.lower().endswith(IMAGE_SUFFIXES)
        ]
    return [(f"s3://{bucket}/{key}", reader(key)) for key in keys]


def folder_sources(folder: str, allowed_roots: list[Path]) -> list[Source]:
    """Readers for the images under a server folder that lies inside one of the allowed roots.

    Symbolic links are never followed out of the folder: linked folders are not entered, a linked file is read
    only when its target lies inside the folder too, and every read opens the resolved target again without
    following links, so a link swapped in after the listing is refused.
    """
    if not allowed_roots:
        raise InvalidRequest("folder sync is disabled on this server (IMGSEARCH_SYNC_FOLDERS is empty)")
    target = Path(folder).resolve()
    if not any(target.is_relative_to(root.resolve()) for root in allowed_roots):
        raise InvalidRequest(f"{folder} is not inside a folder this server may sync")
    if not target.is_dir():
        raise NotFound(f"no folder {folder}")
    paths: list[Path] = []
    for directory, subdirectories, files in os.walk(target, followlinks=False):
        subdirectories.sort()
        for name in sorted(files):
            path = Path(directory) / name
            real = path.resolve()
            if path.suffix.lower() in IMAGE_SUFFIXES and real.is_relative_to(target) and real.is_file():
                paths.append(real)
    return [(f"file://{path}", _reader_inside(path, target)) for path in paths]


def _reader_inside(path: Path, root: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        if not path.resolve().is_relative_to(root):
            raise PermissionError(f"{path} now leads out of {root}: not read")
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as opened:
            return opened.read()

    return read


class JobManager:
    """Runs one job at a time in a background thread; job status lives in memory."""

    def __init__(self, ingestor: Ingestor, batch_size: int = 8, optimize_after: int = 0) -> None:
        """`optimize_after`: a job that adds at least this many images optimises the index after it (0: never)."""
        self.ingestor = ingestor
        self.batch_size = batch_size
        self.optimize_after = optimize_after
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._stopping = threading.Event()

    def start(self, kind: str, sources: list[Source], tags: tuple[str, ...] = ()) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind, total=len(sources))
        with self._lock:
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, sources, tags), name=f"job-{job.id[:8]}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def stop(self) -> None:
        self._stopping.set()

    def _run(self, job: Job, sources: list[Source], tags: tuple[str, ...]) -> None:
        with self._one_at_a_time:
            job.state = JobState.RUNNING
            try:
                for source, outcome in self.ingestor.ingest_many(self._until_stopped(sources), tags, self.batch_size):
                    job.record(source, outcome)
                if self._stopping.is_set():
                    job.state = JobState.FAILED
                    return
                if self.optimize_after and job.added >= self.optimize_after:
                    self._optimize(job)
                job.state = JobState.DONE
            except (ImgsearchError, OSError) as error:
                job.errors.append(("job", getattr(error, "code", "error"), str(error)))
                job.state = JobState.FAILED
            finally:
                job.finished_at = datetime.now(UTC)

    def _optimize(self, job: Job) -> None:
        try:
            job.optimized = self.ingestor.index.optimize()
        except Exception as error:  # noqa: BLE001 (the images are in; a merge that failed only costs speed)
            job.errors.append(("optimize", "optimize_failed", str(error)))

    def _until_stopped(self, sources: list[Source]) -> Iterator[Source]:
        for source in sources:
            if self._stopping.is_set():
                return
            yield source
