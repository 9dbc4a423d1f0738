"""Everything a request needs, built once at start-up from the settings and shut down with the app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from api.model_runner import ModelRunner
from api.url_downloads import UrlDownloads
from imgsearch.backends import build_blob_store, build_index
from imgsearch.errors import ModelMismatch
from imgsearch.index.base import VectorIndex
from imgsearch.ingest import Ingestor
from imgsearch.jobs import JobManager
from imgsearch.metrics import timed
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.search import Searcher
from imgsearch.settings import Settings
from imgsearch.storage.base import BlobStore
from imgsearch.url_fetch import FetchPolicy, UrlFetcher
from pipeline.runner import Pipeline

log = logging.getLogger("imgsearch.api")


@dataclass
class AppServices:
    settings: Settings
    pipeline: Pipeline
    index: VectorIndex
    blobs: BlobStore
    ingestor: Ingestor
    searcher: Searcher
    runner: ModelRunner
    downloads: UrlDownloads
    jobs: JobManager

    @classmethod
    def start(cls, settings: Settings, pipeline: Pipeline | None = None) -> AppServices:
        """Load the models and open the stores; fails fast (missing weights, unreachable servers)."""
        pipeline = pipeline or build_pipeline(settings)
        pipeline.load()
        pipeline.stage_timer = timed
        index = build_index(settings)
        try:
            index.ensure(pipeline.model_id, pipeline.dim)
        except ModelMismatch:
            # Serve anyway: reads work, and every search or ingest answers 409 saying how to fix it.
            log.error("the index was built with another model", extra={"model_id": pipeline.model_id})
        blobs = build_blob_store(settings)
        blobs.ensure()
        ingestor = Ingestor(pipeline, index, blobs)
        policy = FetchPolicy(
            max_bytes=settings.max_upload_bytes,
            timeout_s=settings.url_fetch_timeout_s,
            allowed_networks=tuple(settings.url_fetch_allowed_networks),
        )
        return cls(
            settings=settings,
            pipeline=pipeline,
            index=index,
            blobs=blobs,
            ingestor=ingestor,
            searcher=Searcher(pipeline, index, blobs, expand_by_default=settings.query_expansion),
            runner=ModelRunner(settings.model_workers, settings.model_queue),
            downloads=UrlDownloads(
                UrlFetcher(policy), settings.url_fetch_concurrency, settings.url_fetch_request_timeout_s
            ),
            jobs=JobManager(ingestor, optimize_after=settings.optimize_after_import),
        )

    def close(self) -> None:
        self.jobs.stop()
        self.runner.shutdown()
        self.downloads.fetcher.close()
        self.index.close()
