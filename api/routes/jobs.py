"""Bucket (or server folder) sync jobs and their progress."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path, Request

from api.body import read_json
from api.deps import ApiKeyDep, ServicesDep
from api.openapi import body_ref
from api.schemas import ErrorBody, ErrorDetail, IngestFailure, JobPublic, SyncRequest
from imgsearch.errors import InvalidRequest
from imgsearch.jobs import Job, Source, bucket_sources, folder_sources

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
ERRORS = {status: {"model": ErrorBody} for status in (401, 404, 413, 422, 503)}
SYNC_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": body_ref(SyncRequest)}}}}
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the id `POST /jobs/sync` answered with")]


def _public(job: Job) -> JobPublic:
    return JobPublic(
        id=job.id,
        kind=job.kind,
        state=job.state.value,
        total=job.total,
        done=job.done,
        duplicates=job.duplicates,
        failed=job.failed,
        errors=[IngestFailure(source=s, error=ErrorDetail(code=c, message=m)) for s, c, m in job.errors],
        created_at=job.created_at,
        finished_at=job.finished_at,
        optimized=job.optimized,
    )


@router.post("/sync", status_code=202, response_model=JobPublic, responses=ERRORS, openapi_extra=SYNC_BODY)
async def start_sync(request: Request, services: ServicesDep, _: ApiKeyDep) -> JobPublic:
    """Ingest every image under a MinIO bucket/prefix (or an allowed server folder); safe to run again."""
    settings = services.settings
    # Read here, after the key check: a body parameter would be read and parsed before any dependency ran.
    body = await read_json(request, SyncRequest, settings.max_json_bytes)
    sources: list[Source]
    if (body.bucket is None) == (body.folder is None):
        raise InvalidRequest("give exactly one of 'bucket' or 'folder'")
    if body.bucket is not None:
        buckets = services.core.buckets
        if buckets is None:
            raise InvalidRequest("bucket sync needs a MinIO/S3 endpoint (IMGSEARCH_S3_ENDPOINT)")
        sources = await to_thread.run_sync(bucket_sources, buckets, body.bucket, body.prefix)
        kind = f"sync s3://{body.bucket}/{body.prefix}"
    else:
        sources = await to_thread.run_sync(folder_sources, body.folder or "", settings.sync_folders)
        kind = f"sync folder {body.folder}"
    return _public(services.core.jobs.start(kind, sources, tuple(body.tags)))


@router.get("/{job_id}", response_model=JobPublic, responses=ERRORS)
async def get_job(job_id: JobId, services: ServicesDep) -> JobPublic:
    """Progress of a job: done, duplicates, failed out of total, with the first errors."""
    return _public(services.core.jobs.get(job_id))
