"""Liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Callable

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from imgsearch.errors import BackendUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (answered on the event loop: no worker thread is needed, however busy they are)."""
    return {"status": "ok"}


def _check(ping: Callable[[], None]) -> str:
    try:
        ping()
    except BackendUnavailable as error:
        return error.message
    return "ok"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Models loaded and both stores answering; 503 names the store that is not, and why."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse({"status": "unavailable", "checks": {"models": "loading"}}, status_code=503)
    checks = {
        "models": "ok" if services.core.pipeline.embedder.loaded else "loading",
        services.core.index.name: await to_thread.run_sync(_check, services.core.index.ping),
        services.core.blobs.name: await to_thread.run_sync(_check, services.core.blobs.ping),
    }
    ready = all(state == "ok" for state in checks.values())
    headers = None if ready else {"Retry-After": "5"}
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=headers,
    )
