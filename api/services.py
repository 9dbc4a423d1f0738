"""What a request needs: the core (opened once at start-up by the composition root) and the API's own parts."""

from __future__ import annotations

from dataclasses import dataclass

from api.model_runner import ModelRunner
from api.url_downloads import UrlDownloads
from imgsearch.connections import url_fetcher
from imgsearch.core import Core, open_core
from imgsearch.settings import Settings
from pipeline.runner import Pipeline


@dataclass
class AppServices:
    core: Core
    runner: ModelRunner
    downloads: UrlDownloads

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @classmethod
    def start(cls, settings: Settings, pipeline: Pipeline | None = None) -> AppServices:
        """Load the models and open the stores; fails fast (missing weights, unreachable servers)."""
        # An index of other models is served anyway: reads work, and every search or ingest answers 409.
        core = open_core(settings, pipeline, serve_other_models=True)
        runner = ModelRunner(settings.model_workers, settings.model_queue)
        if settings.model_batch_wait_ms > 0 and settings.model_workers > 1:
            # Concurrent requests meet in front of each model and share its batch (pipeline.micro_batch).
            core.pipeline.share_model_batches(settings.model_batch_wait_ms / 1000, company=runner.others_in_progress)
        return cls(
            core=core,
            runner=runner,
            downloads=UrlDownloads(
                url_fetcher(settings), settings.url_fetch_concurrency, settings.url_fetch_request_timeout_s
            ),
        )

    def close(self) -> None:
        self.runner.shutdown()
        self.downloads.fetcher.close()
        self.core.pipeline.close()
        self.core.close()
