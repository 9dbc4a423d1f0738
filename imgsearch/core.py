"""The composition root: pipeline, stores, ingestor, searcher and jobs, built once from the settings.

The HTTP API, the command line and the benchmarks all open the product through `open_core`; nothing else wires
these pieces together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from minio import Minio

from imgsearch.backends import build_blob_store, build_index, build_job_store
from imgsearch.connections import minio_client
from imgsearch.errors import ModelMismatch
from imgsearch.index.base import VectorIndex
from imgsearch.ingest import Ingestor
from imgsearch.jobs import JobManager
from imgsearch.metrics import timed
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.query_sessions import QuerySessions
from imgsearch.search import Searcher, SearchTuning
from imgsearch.settings import Settings
from imgsearch.storage.base import BlobStore
from pipeline.runner import Pipeline

log = logging.getLogger(__name__)


@dataclass
class Core:
    settings: Settings
    pipeline: Pipeline
    index: VectorIndex
    blobs: BlobStore
    ingestor: Ingestor
    searcher: Searcher
    jobs: JobManager
    # The configured MinIO/S3 server, for syncing a bucket of the user's images; None without one.
    buckets: Minio | None = None

    def close(self) -> None:
        self.jobs.stop()
        self.jobs.store.close()
        self.index.close()


def open_core(settings: Settings, pipeline: Pipeline | None = None, serve_other_models: bool = False) -> Core:
    """Load the models and open the stores (creating an index for these models); fails fast.

    `pipeline`: one already loaded, to share (tests, the demo). `serve_other_models`: open an index built with
    other models anyway, so reads work and every search or ingest answers how to fix it (the API does).
    """
    pipeline = pipeline or build_pipeline(settings)
    pipeline.load()
    pipeline.stage_timer = timed
    index = build_index(settings)
    try:
        index.ensure(pipeline.model_id, pipeline.dim)
    except ModelMismatch:
        if not serve_other_models:
            index.close()
            raise
        log.error("the index was built with another model", extra={"model_id": pipeline.model_id})
    try:
        blobs = build_blob_store(settings)
        blobs.ensure()
    except BaseException:
        index.close()
        raise
    ingestor = Ingestor(pipeline, index, blobs)
    job_store = build_job_store(settings, getattr(index, "client", None))
    return Core(
        settings=settings,
        pipeline=pipeline,
        index=index,
        blobs=blobs,
        ingestor=ingestor,
        searcher=Searcher(pipeline, index, blobs, _query_sessions(settings), _search_tuning(settings)),
        jobs=JobManager(ingestor, job_store, optimize_after=settings.optimize_after_import),
        buckets=minio_client(settings) if settings.uses_s3 else None,
    )


def _query_sessions(settings: Settings) -> QuerySessions:
    return QuerySessions(settings.query_sessions, settings.query_sessions_max_bytes, settings.query_session_ttl_s)


def _search_tuning(settings: Settings) -> SearchTuning:
    return SearchTuning(
        expand_by_default=settings.query_expansion,
        main_object_rule=settings.main_object_rule,
        merge_query_boxes=settings.query_merge_boxes,
        match_margin=settings.match_margin,
    )


@contextmanager
def opened_core(settings: Settings, pipeline: Pipeline | None = None) -> Iterator[Core]:
    """`open_core` for one piece of work; the stores close after it."""
    core = open_core(settings, pipeline)
    try:
        yield core
    finally:
        core.close()
