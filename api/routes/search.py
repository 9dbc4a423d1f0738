"""Search by an uploaded file, a URL, or an indexed image; whole image, one detected object, or a drawn box."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from api.body import limit_body, read_json
from api.deps import ServicesDep
from api.openapi import body_ref
from api.schemas import (
    ErrorBody,
    ObjectPublic,
    QueryPublic,
    SearchParameters,
    SearchRequest,
    SearchResponse,
    SearchResult,
    UsedQuery,
)
from imgsearch.errors import InvalidRequest
from imgsearch.index.cursor import decode_search_cursor, encode_search_cursor
from imgsearch.search import SearchOptions, SearchOutcome

router = APIRouter(prefix="/api/v1", tags=["search"])
ERRORS = {status: {"model": ErrorBody} for status in (404, 409, 413, 415, 422, 503)}
SEARCH_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **{
                            name: {"type": "string", "description": f"as in the JSON body's `{name}`"}
                            for name in SearchParameters.model_fields
                        },
                    },
                }
            },
            "application/json": {"schema": body_ref(SearchRequest)},
        }
    }
}
LIST_FIELDS = ("labels", "kinds")


def _form_value(name: str, values: list[Any]) -> Any:
    """Form fields arrive as text: lists may repeat or be comma-separated, the box may be JSON or x1,y1,x2,y2."""
    texts = [value for value in values if isinstance(value, str)]
    if name in LIST_FIELDS:
        return [part.strip() for text in texts for part in text.split(",") if part.strip()]
    if name == "box" and texts:
        text = texts[-1].strip()
        try:
            return json.loads(text) if text.startswith("[") else text.split(",")
        except json.JSONDecodeError as error:
            raise InvalidRequest(f"box: give [x1, y1, x2, y2] or x1,y1,x2,y2 ({error.msg})") from error
    return texts[-1] if texts else None


async def _multipart_query(request: Request) -> tuple[bytes, SearchParameters]:
    form = await request.form(max_files=1)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("send the query image as a multipart field named 'file'")
    fields = {name: _form_value(name, form.getlist(name)) for name in SearchParameters.model_fields if name in form}
    return await upload.read(), SearchParameters.model_validate(fields)


def _options(parameters: SearchParameters) -> SearchOptions:
    offset = decode_search_cursor(parameters.cursor) if parameters.cursor else 0
    return SearchOptions(
        k=parameters.k,
        object=parameters.object,
        box=parameters.box_value(),
        labels=tuple(parameters.labels),
        kinds=tuple(parameters.kinds),
        min_similarity=parameters.min_similarity,
        offset=offset,
        expand=parameters.expand,
    )


def _response(outcome: SearchOutcome, started: float) -> SearchResponse:
    query = outcome.query
    page = outcome.page
    return SearchResponse(
        query=QueryPublic(
            width=query.width,
            height=query.height,
            objects=[ObjectPublic.of(obj) for obj in query.objects],
            used=UsedQuery(bbox=query.used_box.as_list(), label=query.used_label),
        ),
        results=[SearchResult.of(hit) for hit in page.hits],
        next_cursor=encode_search_cursor(page.next_offset) if page.next_offset is not None else None,
        took_ms=round((time.perf_counter() - started) * 1000, 1),
    )


@router.post("/search", response_model=SearchResponse, responses=ERRORS, openapi_extra=SEARCH_BODY)
async def search(request: Request, services: ServicesDep) -> SearchResponse:
    """Images whose objects look like the query, each with the boxes that matched and their similarity."""
    started = time.perf_counter()
    searcher = services.core.searcher
    settings = services.settings
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # One image and a few small fields.
        limit_body(request, settings.max_upload_bytes + settings.max_json_bytes)
        data, parameters = await _multipart_query(request)
        outcome = await services.runner.run(searcher.by_bytes, data, _options(parameters))
        return _response(outcome, started)
    body = await read_json(request, SearchRequest, settings.max_json_bytes)
    if (body.url is None) == (body.image_id is None):
        raise InvalidRequest("give exactly one of 'url' or 'image_id' (or upload a 'file' as multipart)")
    options = _options(body)
    if body.image_id is not None:
        outcome = await services.runner.run(searcher.by_image_id, body.image_id, options)
    else:
        data = await services.downloads.fetch(str(body.url))
        outcome = await services.runner.run(searcher.by_bytes, data, options)
    return _response(outcome, started)
