"""The FastAPI application: wiring only; routes live in `api/routes`."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import health
from imgsearch import __version__
from imgsearch.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="imgsearch", version=__version__, description="Search your own images by the objects in them.")
    app.state.settings = settings or get_settings()
    app.include_router(health.router)
    return app
