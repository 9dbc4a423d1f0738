"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from imgsearch.connections import elasticsearch_client, minio_client
from imgsearch.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _dependency_checks(settings: Settings) -> dict[str, str]:
    checks: dict[str, str] = {}
    if settings.uses_elasticsearch:
        # A short-lived client, closed again: probes run every few seconds and must not leak connection pools.
        with elasticsearch_client(settings) as client:
            try:
                health = client.options(request_timeout=2, max_retries=0).cluster.health()
                checks["elasticsearch"] = "ok" if health["status"] in ("green", "yellow") else health["status"]
            except Exception as error:  # noqa: BLE001 (any failure means not ready; say which)
                checks["elasticsearch"] = type(error).__name__
    if settings.uses_s3:
        try:
            minio_client(settings).list_buckets()
            checks["s3"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["s3"] = type(error).__name__
    return checks


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Models loaded and every configured server (Elasticsearch, MinIO) answering; 503 names what is not."""
    services = getattr(request.app.state, "services", None)
    checks = {"models": "ok" if services is not None and services.pipeline.embedder.loaded else "loading"}
    checks |= _dependency_checks(request.app.state.settings)
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )
