"""Ingest, browse, fetch and delete images."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from api.body import read_json
from api.deps import ApiKeyDep, ServicesDep
from api.openapi import body_ref
from api.schemas import (
    ErrorBody,
    ErrorDetail,
    ImagePage,
    ImagePublic,
    IngestedImage,
    IngestFailure,
    IngestResponse,
    ObjectPublic,
    Tag,
    TagsUpdate,
    UrlIngestRequest,
)
from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.ids import IMAGE_ID_PATTERN
from imgsearch.ingest import IngestResult
from imgsearch.maintenance import delete_image
from imgsearch.storage.base import BlobKind
from imgsearch.thumbnails import THUMBNAIL_CONTENT_TYPE
from pipeline.errors import ImageRejected, RejectCode
from pipeline.records import ObjectKind

router = APIRouter(prefix="/api/v1/images", tags=["images"])
MAX_FILES = 100
# The sha256 of the original, checked here so no store ever sees a malformed id.
ImageId = Annotated[str, Path(pattern=IMAGE_ID_PATTERN, description="sha256 of the original bytes")]
ERRORS = {status: {"model": ErrorBody} for status in (401, 404, 413, 415, 422, 503)}
INGEST_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
            "application/json": {"schema": body_ref(UrlIngestRequest)},
        }
    }
}


async def _uploads(request: Request, max_bytes: int) -> tuple[list[tuple[str, bytes | Exception]], list[str]]:
    form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    uploads = [item for item in form.getlist("file") + form.getlist("files") if isinstance(item, UploadFile)]
    if not uploads:
        raise InvalidRequest("send the image as a multipart field named 'file' (or several named 'files')")
    named: list[tuple[str, bytes | Exception]] = []
    for upload in uploads:
        name = f"upload:{PurePath(upload.filename or 'unnamed').name}"
        size = upload.size or 0
        if size > max_bytes:
            named.append(
                (name, ImageRejected(RejectCode.TOO_MANY_BYTES, f"{size} bytes, over the {max_bytes} allowed"))
            )
        else:
            named.append((name, await upload.read()))
    tags = [tag for tag in form.getlist("tags") if isinstance(tag, str) and tag]
    return named, tags


def _failure(source: str, error: Exception) -> IngestFailure:
    code = error.code.value if isinstance(error, ImageRejected) else getattr(error, "code", "internal")
    return IngestFailure(source=source, error=ErrorDetail(code=str(code), message=str(error)))


@router.post("", status_code=201, response_model=IngestResponse, responses=ERRORS, openapi_extra=INGEST_BODY)
async def ingest_images(request: Request, services: ServicesDep, _: ApiKeyDep) -> JSONResponse:
    """Add images from uploaded files or from URLs; an image already indexed comes back with `duplicate: true`.

    201 when at least one image is new, 200 when all were there already. When every image fails, the first
    failure is the response (413, 415, 422, ...); otherwise failures are listed in `failed`.
    """
    payloads: list[tuple[str, bytes | Exception]]
    settings = services.settings
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_json(request, UrlIngestRequest, settings.max_json_bytes)
        urls = body.all_urls()
        if not urls:
            raise InvalidRequest("give 'url' or 'urls'")
        payloads, tags = list(zip(urls, await services.downloads.fetch_all(urls), strict=True)), body.tags
    else:
        payloads, tags = await _uploads(request, settings.max_upload_bytes)
    sources = [(name, (lambda data=data: data)) for name, data in payloads if isinstance(data, bytes)]
    # In input order, one outcome per readable payload (two uploads may share a file name).
    # Nothing readable (every URL failed, say): no model slot is taken, so the answer is that failure, not a 503.
    ingested = iter(
        await services.runner.run(lambda: [o for _, o in services.core.ingestor.ingest_many(sources, tuple(tags))])
        if sources
        else []
    )
    outcomes = [(name, data if isinstance(data, Exception) else next(ingested)) for name, data in payloads]
    images = [_ingested(outcome) for _, outcome in outcomes if isinstance(outcome, IngestResult)]
    errors = [(name, outcome) for name, outcome in outcomes if isinstance(outcome, Exception)]
    if not images:
        raise errors[0][1]
    status = 201 if any(not image.duplicate for image in images) else 200
    response = IngestResponse(images=images, failed=[_failure(name, error) for name, error in errors])
    return JSONResponse(response.model_dump(mode="json"), status_code=status)


def _ingested(result: IngestResult) -> IngestedImage:
    document = result.document
    objects = [ObjectPublic.of(obj) for obj in document.objects if obj.kind is ObjectKind.OBJECT]
    return IngestedImage(
        id=document.image_id, width=document.width, height=document.height, duplicate=result.duplicate, objects=objects
    )


@router.get("", response_model=ImagePage, responses=ERRORS)
async def browse_images(
    services: ServicesDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    tag: Annotated[list[Tag], Query(max_length=32, description="only images holding every one")] = [],  # noqa: B006
) -> ImagePage:
    """Indexed images, newest first; pass `next_cursor` back (with the same tags) for the next page."""
    page = await to_thread.run_sync(services.core.index.browse, cursor, limit, tag)
    return ImagePage(images=[ImagePublic.of(doc) for doc in page.images], next_cursor=page.next_cursor)


@router.get("/{image_id}", response_model=ImagePublic, responses=ERRORS)
async def get_image(image_id: ImageId, services: ServicesDep) -> ImagePublic:
    """One image's record with its detected objects."""
    document = await to_thread.run_sync(services.core.index.get, image_id)
    if document is None:
        raise NotFound(f"no indexed image {image_id}")
    return ImagePublic.of(document)


def _bytes_response(data: bytes, content_type: str) -> Response:
    # nosniff: the bytes were uploaded by someone; browsers must not guess another type for them.
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=31536000, immutable"}
    return Response(content=data, media_type=content_type, headers=headers)


@router.patch(
    "/{image_id}",
    response_model=ImagePublic,
    responses=ERRORS,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": body_ref(TagsUpdate)}}}},
)
async def update_image(image_id: ImageId, request: Request, services: ServicesDep, _: ApiKeyDep) -> ImagePublic:
    """Replace the image's tags: `{"tags": [...]}`."""
    body = await read_json(request, TagsUpdate, services.settings.max_json_bytes)
    document = await to_thread.run_sync(services.core.index.set_tags, image_id, body.tags)
    if document is None:
        raise NotFound(f"no indexed image {image_id}")
    return ImagePublic.of(document)


@router.get("/{image_id}/content", responses=ERRORS, response_class=Response)
async def get_image_content(image_id: ImageId, services: ServicesDep) -> Response:
    """The original bytes, with their real content type."""
    document = await to_thread.run_sync(services.core.index.get, image_id)
    if document is None:
        raise NotFound(f"no indexed image {image_id}")
    data = await to_thread.run_sync(services.core.blobs.get, BlobKind.ORIGINAL, image_id)
    return _bytes_response(data, document.content_type)


@router.get("/{image_id}/thumbnail", responses=ERRORS, response_class=Response)
async def get_image_thumbnail(image_id: ImageId, services: ServicesDep) -> Response:
    """A JPEG thumbnail, at most 320 pixels a side."""
    data = await to_thread.run_sync(services.core.blobs.get, BlobKind.THUMBNAIL, image_id)
    return _bytes_response(data, THUMBNAIL_CONTENT_TYPE)


@router.delete("/{image_id}", status_code=204, responses=ERRORS, response_class=Response)
async def remove_image(image_id: ImageId, services: ServicesDep, _: ApiKeyDep) -> Response:
    """Delete the image's record, its vectors, the original and the thumbnail."""
    await to_thread.run_sync(delete_image, services.core.index, services.core.blobs, image_id)
    return Response(status_code=204)
