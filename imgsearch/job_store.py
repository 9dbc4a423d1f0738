"""Where job records live, next to the images: an Elasticsearch index, or a SQLite table in the data dir.

A record is the job as JSON (`Job.as_dict`), newest first by creation time; saving an id again replaces it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from pathlib import Path

from elasticsearch import Elasticsearch, NotFoundError

from imgsearch.errors import BackendUnavailable, outages_translated
from imgsearch.index.es_errors import es_call
from imgsearch.index.es_mapping import ShardLayout
from imgsearch.jobs import Job

JOBS_INDEX_SUFFIX = "-jobs"
JOBS_MAPPING = {
    "dynamic": False,
    "properties": {"created_at": {"type": "date"}, "record": {"type": "object", "enabled": False}},
}


class JobStore(ABC):
    @abstractmethod
    def save(self, job: Job) -> None: ...

    @abstractmethod
    def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    def newest(self, limit: int) -> list[Job]: ...

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections or files."""


class MemoryJobStore(JobStore):
    """For tests of the job logic: records that end with the process."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, object]] = {}

    def save(self, job: Job) -> None:
        self._records[job.id] = job.as_dict()

    def get(self, job_id: str) -> Job | None:
        record = self._records.get(job_id)
        return Job.from_dict(record) if record else None

    def newest(self, limit: int) -> list[Job]:
        jobs = sorted((Job.from_dict(r) for r in self._records.values()), key=lambda j: j.created_at, reverse=True)
        return jobs[:limit]


_sqlite_call = outages_translated(
    (sqlite3.OperationalError, OSError),
    lambda error: BackendUnavailable("the embedded job records", f"{type(error).__name__}: {error}"),
)


class SqliteJobStore(JobStore):
    """One table in its own file in the data dir (the index's database stays the index's)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL").fetchall()
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, record TEXT NOT NULL)"
        )
        self._lock = threading.Lock()

    @_sqlite_call
    def save(self, job: Job) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, created_at, record) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                (job.id, job.created_at.isoformat(), json.dumps(job.as_dict())),
            )

    @_sqlite_call
    def get(self, job_id: str) -> Job | None:
        with self._lock:
            # fetchall, not fetchone: a statement left unfinished would keep this connection on an old snapshot.
            rows = self._db.execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchall()
        return Job.from_dict(json.loads(rows[0][0])) if rows else None

    @_sqlite_call
    def newest(self, limit: int) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [Job.from_dict(json.loads(row[0])) for row in rows]

    def close(self) -> None:
        self._db.close()


class ElasticsearchJobStore(JobStore):
    """An index beside the images' alias (`<alias>-jobs`), created on first use."""

    def __init__(self, client: Elasticsearch, images_alias: str, replicas: str = "0-1") -> None:
        self.client = client
        self.index = images_alias + JOBS_INDEX_SUFFIX
        # The job records stay with the images they describe: as many copies (one shard: they are few).
        self.layout = ShardLayout(1, replicas)
        self._created = False

    def _ensure(self) -> None:
        if self._created:
            return
        if not self.client.indices.exists(index=self.index):
            try:
                self.client.indices.create(index=self.index, mappings=JOBS_MAPPING,
                                           settings=self.layout.index_settings())  # fmt: skip
            except Exception as error:
                if "already_exists" not in str(error):
                    raise
        self._created = True

    @es_call
    def save(self, job: Job) -> None:
        self._ensure()
        document = {"created_at": job.created_at.isoformat(), "record": job.as_dict()}
        # No refresh here: a running job saves every few seconds and must not wait for one; `get` is real-time
        # and `newest` refreshes this small index first.
        self.client.index(index=self.index, id=job.id, document=document)

    @es_call
    def get(self, job_id: str) -> Job | None:
        self._ensure()
        try:
            found = self.client.get(index=self.index, id=job_id)
        except NotFoundError:
            return None
        return Job.from_dict(found["_source"]["record"])

    @es_call
    def newest(self, limit: int) -> list[Job]:
        self._ensure()
        self.client.indices.refresh(index=self.index)
        found = self.client.search(
            index=self.index, size=limit, sort=[{"created_at": "desc"}], allow_partial_search_results=False
        )
        return [Job.from_dict(hit["_source"]["record"]) for hit in found["hits"]["hits"]]
