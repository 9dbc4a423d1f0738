"""Bucket (or server folder) sync jobs: start, list, follow, resume after an interruption, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path, Request

from api.body import read_json
from api.deps import ApiKeyDep, ServicesDep
from api.openapi import body_ref
from api.schemas import ErrorBody, ErrorDetail, IngestFailure, JobPublic, SyncRequest
from api.services import AppServices
from imgsearch.errors import InvalidRequest
from imgsearch.jobs import Job, JobNotResumable, Source, bucket_sources, folder_sources

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
ERRORS = {status: {"model": ErrorBody} for status in (401, 404, 409, 413, 422, 503)}
SYNC_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": body_ref(SyncRequest)}}}}
COMMAND_LINE_JOBS = ("index", "reindex")  # resumed by the command that started them, which lists what they read
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the id `POST /jobs/sync` answered with")]


def _public(job: Job) -> JobPublic:
    return JobPublic(
        id=job.id,
        kind=job.kind,
        state=job.seen_state(datetime.now(UTC)).value,
        total=job.total,
        done=job.done,
        duplicates=job.duplicates,
        failed=job.failed,
        errors=[IngestFailure(source=s, error=ErrorDetail(code=c, message=m)) for s, c, m in job.errors],
        created_at=job.created_at,
        finished_at=job.finished_at,
        updated_at=job.updated_at,
        optimized=job.optimized,
    )


@router.post("/sync", status_code=202, response_model=JobPublic, responses=ERRORS, openapi_extra=SYNC_BODY)
async def start_sync(request: Request, services: ServicesDep, _: ApiKeyDep) -> JobPublic:
    """Ingest every image under a MinIO bucket/prefix (or an allowed server folder); safe to run again."""
    settings = services.settings
    # Read here, after the key check: a body parameter would be read and parsed before any dependency ran.
    body = await read_json(request, SyncRequest, settings.max_json_bytes)
    if (body.bucket is None) == (body.folder is None):
        raise InvalidRequest("give exactly one of 'bucket' or 'folder'")
    if body.bucket is not None:
        spec = {"bucket": body.bucket, "prefix": body.prefix}
        kind = f"sync s3://{body.bucket}/{body.prefix}"
    else:
        spec = {"folder": body.folder or ""}
        kind = f"sync folder {body.folder}"
    sources = await _listed(services, spec)
    return _public(services.core.jobs.start(kind, sources, tuple(body.tags), spec))


async def _listed(services: AppServices, spec: dict[str, str]) -> list[Source]:
    """A sync job's sources, listed now (again, for a resume: the same order)."""
    if "bucket" in spec:
        buckets = services.core.buckets
        if buckets is None:
            raise InvalidRequest("bucket sync needs a MinIO/S3 endpoint (IMGSEARCH_S3_ENDPOINT)")
        return await to_thread.run_sync(bucket_sources, buckets, spec["bucket"], spec.get("prefix", ""))
    if "folder" in spec:
        # Checked against the allowed folders again: the settings may have changed since the job started.
        return await to_thread.run_sync(folder_sources, spec["folder"], services.settings.sync_folders)
    raise InvalidRequest("this job was not started by a sync and cannot be resumed here")


@router.get("", response_model=list[JobPublic], responses=ERRORS)
async def list_jobs(services: ServicesDep) -> list[JobPublic]:
    """The newest jobs first (at most 50), with their state: a job whose process stopped reads as interrupted."""
    return [_public(job) for job in await to_thread.run_sync(services.core.jobs.newest)]


@router.get("/{job_id}", response_model=JobPublic, responses=ERRORS)
async def get_job(job_id: JobId, services: ServicesDep) -> JobPublic:
    """Progress of a job: done, duplicates, failed out of total, with the first errors."""
    return _public(await to_thread.run_sync(services.core.jobs.get, job_id))


@router.post("/{job_id}/resume", status_code=202, response_model=JobPublic, responses=ERRORS)
async def resume_job(job_id: JobId, services: ServicesDep, _: ApiKeyDep) -> JobPublic:
    """Go on with an interrupted job after the last image whose result it recorded."""
    job = await to_thread.run_sync(services.core.jobs.get, job_id)
    job.check_resumable()  # before listing its sources again
    if job.kind in COMMAND_LINE_JOBS:
        raise JobNotResumable(f"job {job_id} ran from the command line: go on with `imgsearch {job.kind} --resume "
                              f"{job_id}`")  # fmt: skip
    sources = await _listed(services, job.spec)
    return _public(await to_thread.run_sync(services.core.jobs.resume, job_id, sources))


@router.post("/{job_id}/cancel", response_model=JobPublic, responses=ERRORS)
async def cancel_job(job_id: JobId, services: ServicesDep, _: ApiKeyDep) -> JobPublic:
    """Stop a job after the batch in flight (an interrupted one is only marked cancelled)."""
    return _public(await to_thread.run_sync(services.core.jobs.cancel, job_id))
