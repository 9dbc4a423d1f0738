"""Background sync jobs: ingest every image under a bucket prefix (or an allowed server folder).

Job records are stored by the back end (`imgsearch.job_store`), so they outlive the process: a job whose process
stopped beating (a crash, a restart) reads as interrupted, and resuming it lists its sources again, in the same
order, and goes on after the last one whose result was recorded (results come in source order, after their
bulk write). Images already indexed are recognised by their hash, so nothing is stored twice either way. A job
that added many images optimises the index after it (`VectorIndex.optimize`: one segment on Elasticsearch).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minio import Minio

from imgsearch.errors import ImgsearchError, InvalidRequest, NotFound
from imgsearch.ingest import Ingestor, IngestResult
from imgsearch.storage.minio_store import minio_outages

if TYPE_CHECKING:
    from imgsearch.job_store import JobStore

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MAX_REPORTED_ERRORS = 50

Source = tuple[str, Callable[[], bytes]]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # read so: a running job whose process has not beaten for HEARTBEAT_STALE_S


FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)
# A running job's record is saved at least this often; one not saved for the stale time has lost its process.
HEARTBEAT_S = 2.0
HEARTBEAT_STALE_S = 30.0


@dataclass
class Job:
    id: str
    kind: str
    spec: dict[str, str] = field(default_factory=dict)  # what to list again on resume: bucket+prefix, or folder
    tags: tuple[str, ...] = ()
    state: JobState = JobState.QUEUED
    total: int | None = None
    done: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    optimized: str | None = None  # what the index's optimize() said, when the job ran it
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    owner: str = field(default_factory=lambda: this_process())  # host:pid of the process running it
    position: str = ""  # a re-index job: the last image id copied (ids in order); a resume goes on after it

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["state"] = self.state.value
        for name in ("created_at", "finished_at", "updated_at"):
            record[name] = record[name].isoformat() if record[name] else None
        record["errors"] = [list(error) for error in self.errors]
        record["tags"] = list(self.tags)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Job:
        values = dict(record)
        values["state"] = JobState(values["state"])
        for name in ("created_at", "finished_at", "updated_at"):
            values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
        values["errors"] = [tuple(error) for error in values.get("errors", [])]
        values["tags"] = tuple(values.get("tags", ()))
        values.setdefault("owner", "")  # unknown: only the heartbeat can tell
        return cls(**values)

    def check_resumable(self) -> None:
        """Raise `JobNotResumable` unless the job reads as interrupted now."""
        state = self.seen_state(datetime.now(UTC))
        if state is not JobState.INTERRUPTED:
            raise JobNotResumable(f"job {self.id} is {state.value}: only an interrupted job can be resumed")

    def seen_state(self, now: datetime) -> JobState:
        """The state as a reader should see it: a running job nobody has saved for a while was interrupted."""
        if self.state not in (JobState.RUNNING, JobState.QUEUED):
            return self.state
        if (now - self.updated_at).total_seconds() > HEARTBEAT_STALE_S or _gone(self.owner):
            return JobState.INTERRUPTED
        return self.state

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


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(owner: str) -> bool:
    """Whether the owner ran on this machine and its process is no more (then there is no need to wait)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def bucket_sources(client: Minio, bucket: str, prefix: str) -> list[Source]:
    """Readers for every image-looking object under the prefix (listed up front, so the job knows its total)."""

    with minio_outages():
        if not client.bucket_exists(bucket):
            raise NotFound(f"no bucket {bucket}")
        keys = [
            item.object_name
            for item in client.list_objects(bucket, prefix=prefix or None, recursive=True)
            if item.object_name and item.object_name.lower().endswith(IMAGE_SUFFIXES)
        ]
    return [(f"s3://{bucket}/{key}", object_reader(client, bucket, key)) for key in keys]


def object_reader(client: Minio, bucket: str, key: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with minio_outages():
            response = client.get_object(bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    return read


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
    """Runs one job at a time in a background thread; records go to the store as the job progresses."""

    def __init__(self, ingestor: Ingestor, store: JobStore, batch_size: int = 8, optimize_after: int = 0) -> None:
        """`optimize_after`: a job that adds at least this many images optimises the index after it (0: never)."""
        self.ingestor = ingestor
        self.store = store
        self.batch_size = batch_size
        self.optimize_after = optimize_after
        self._active: dict[str, Job] = {}  # running or queued in this process
        self._cancelled: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._stopping = threading.Event()

    def start(
        self, kind: str, sources: list[Source], tags: tuple[str, ...] = (), spec: dict[str, str] | None = None
    ) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind, spec=dict(spec or {}), tags=tags, total=len(sources))
        self.store.save(job)
        return self._launch(job, sources)

    def resume(self, job_id: str, sources: list[Source]) -> Job:
        """Go on with an interrupted job from its first source without a recorded result; `sources` is its
        listing made again (the same order)."""
        job = self.get(job_id)
        job.check_resumable()
        job.state, job.finished_at, job.total = JobState.QUEUED, None, max(len(sources), job.done)
        job.owner = this_process()
        job.updated_at = datetime.now(UTC)
        self.store.save(job)
        return self._launch(job, sources[job.done :])

    def cancel(self, job_id: str) -> Job:
        """Stop a job after the batch in flight (or mark an interrupted one cancelled)."""
        with self._lock:
            active = self._active.get(job_id)
            if active is not None:
                self._cancelled.add(job_id)
                return active
        job = self.get(job_id)
        if job.state in FINISHED:
            raise JobNotResumable(f"job {job_id} is already {job.state.value}")
        job.state, job.finished_at = JobState.CANCELLED, datetime.now(UTC)
        self.store.save(job)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._active.get(job_id)
        if job is None:
            job = self.store.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def newest(self, limit: int = 50) -> list[Job]:
        with self._lock:
            active = dict(self._active)
        return [active.get(job.id, job) for job in self.store.newest(limit)]

    def stop(self, wait_s: float = 30.0) -> None:
        """Stop taking sources; wait for the batches in flight and the last saves of their records."""
        self._stopping.set()
        deadline = time.monotonic() + wait_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def _launch(self, job: Job, sources: list[Source]) -> Job:
        with self._lock:
            self._active[job.id] = job
        thread = threading.Thread(target=self._run, args=(job, sources), name=f"job-{job.id[:8]}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return job

    def _run(self, job: Job, sources: list[Source]) -> None:
        with self._one_at_a_time:
            job.state = JobState.RUNNING
            self._save(job)
            saved_at = time.monotonic()
            try:
                stream = self.ingestor.ingest_many(self._until_stopped(job, sources), job.tags, self.batch_size)
                for source, outcome in stream:
                    job.record(source, outcome)
                    if time.monotonic() - saved_at >= HEARTBEAT_S:
                        self._save(job)
                        saved_at = time.monotonic()
                if job.id in self._cancelled:
                    job.state = JobState.CANCELLED
                elif self._stopping.is_set():
                    job.state = JobState.INTERRUPTED  # the process is going away: resume it after the restart
                    return
                else:
                    if self.optimize_after and job.added >= self.optimize_after:
                        self._optimize(job)
                    job.state = JobState.DONE
                job.finished_at = datetime.now(UTC)
            except (ImgsearchError, OSError) as error:
                job.errors.append(("job", getattr(error, "code", "error"), str(error)))
                job.state = JobState.FAILED
                job.finished_at = datetime.now(UTC)
            finally:
                self._save(job)
                with self._lock:
                    self._active.pop(job.id, None)
                    self._cancelled.discard(job.id)

    def _save(self, job: Job) -> None:
        save_progress(self.store, job)

    def _optimize(self, job: Job) -> None:
        try:
            job.optimized = self.ingestor.index.optimize()
        except Exception as error:  # noqa: BLE001 (the images are in; a merge that failed only costs speed)
            job.errors.append(("optimize", "optimize_failed", str(error)))

    def _until_stopped(self, job: Job, sources: list[Source]) -> Iterator[Source]:
        for source in sources:
            if self._stopping.is_set() or job.id in self._cancelled:
                return
            yield source


def save_progress(store: JobStore, job: Job) -> None:
    """Save a running job's record; with the store down the job goes on, and the next save catches up."""
    job.updated_at = datetime.now(UTC)
    with contextlib.suppress(ImgsearchError):
        store.save(job)


class JobNotResumable(InvalidRequest):
    code = "job_not_resumable"
