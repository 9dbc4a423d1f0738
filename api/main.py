"""The FastAPI application: wiring only; routes live in `api/routes`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.middleware import BodyLimitMiddleware, HeaderLimitMiddleware, RequestContextMiddleware
from api.openapi import install_openapi
from api.routes import health, images, jobs, search, stats
from api.schemas import SearchRequest, SyncRequest, TagsUpdate, UrlIngestRequest
from api.services import AppServices
from imgsearch import __version__
from imgsearch.settings import REPO_ROOT, Settings, get_settings
from pipeline.runner import Pipeline

FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """The app for these settings; `pipeline` lets tests share one already loaded."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await to_thread.run_sync(AppServices.start, settings, pipeline)
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(
        title="imgsearch",
        version=__version__,
        description="Search your own images by the objects in them.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app, body_models=(UrlIngestRequest, SearchRequest, SyncRequest, TagsUpdate))
    for router in (health.router, images.router, search.router, jobs.router, stats.router):
        app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware)
    # Outermost: a request with an oversized head is refused before anything else looks at it.
    app.add_middleware(HeaderLimitMiddleware, max_count=settings.max_header_count, max_bytes=settings.max_header_bytes)
    if (FRONTEND_DIST / "index.html").is_file():
        app.mount("/", StaticFiles(directory=FRONTEND_DIST, html=True), name="frontend")
    return app
