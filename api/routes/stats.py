"""Index statistics and Prometheus metrics."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServicesDep
from api.schemas import StatsPublic

router = APIRouter(tags=["stats"])


@router.get("/api/v1/stats", response_model=StatsPublic)
async def stats(services: ServicesDep) -> StatsPublic:
    """How many images and objects are indexed, per label, the index size and the model it was built with."""
    found = await to_thread.run_sync(services.core.index.stats)
    return StatsPublic(
        images=found.images,
        objects=found.objects,
        labels=found.labels,
        index_size_bytes=found.size_bytes,
        model_id=found.model_id,
        dim=found.dim,
        backend=services.core.index.name,
    )


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus text format: per-stage latency histograms, request counts, saturation refusals."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
