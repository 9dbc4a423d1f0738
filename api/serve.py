"""Serving the app with uvicorn, with the limits that bound what a client can make the server hold."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from imgsearch.settings import Settings


def server_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn options that bound a request before the app sees it.

    h11, not httptools: httptools has no limit on the request head (an 8 MiB header was accepted). Twice the
    app's header budget, so a head between the two still gets the app's JSON 431 rather than h11's plain 400.
    """
    return {"http": "h11", "h11_max_incomplete_event_size": 2 * settings.max_header_bytes}


def serve(app: FastAPI, settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted, on the settings' address unless `host`/`port` are given; our JSON logs only."""
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_config=None, **server_limits(settings))
