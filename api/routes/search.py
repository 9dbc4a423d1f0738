"""Search by an uploaded file, a URL, an indexed image, or an earlier query's image (`query_id`): its main object,
chosen objects, drawn boxes (all of them to be matched), or the whole image."""

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
from imgsearch.query_sessions import QUERY_ID_PATTERN
from imgsearch.search import SearchOptions, SearchOutcome

router = APIRouter(prefix="/api/v1", tags=["search"])
ERRORS = {status: {"model": ErrorBody} for status in (404, 409, 410, 413, 415, 422, 503)}
SEARCH_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "a query image as `file`, or the `query_id` of an earlier search",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "query_id": {"type": "string", "pattern": QUERY_ID_PATTERN},
                        **{
                            name: {"type": "string", "description": f"as in the JSON body's `{name}`"}
                            for name in SearchParameters.model_fields
                        },
                    },
                }
            },
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "description": "a search again by the `query_id` of an earlier search, as a plain form",
                    "required": ["query_id"],
                    "properties": {
                        "query_id": {"type": "string", "pattern": QUERY_ID_PATTERN},
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
LIST_FIELDS = ("labels", "kinds", "objects", "tags")
FORM_FIELDS = (*SearchParameters.model_fields, "query_id")
# A form with a query_id and no file may also come url-encoded (an HTML form, `curl -d`).
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _form_value(name: str, values: list[Any]) -> Any:
    """Form fields arrive as text: lists may repeat or be comma-separated, the box may be JSON or x1,y1,x2,y2."""
    texts = [value for value in values if isinstance(value, str)]
    if name in LIST_FIELDS:
        return [part.strip() for text in texts for part in text.split(",") if part.strip()]
    if name == "box" and texts:
        return _form_box(texts[-1].strip(), "box")
    if name == "boxes" and texts:
        boxes = [_form_box(text.strip(), "boxes") for text in texts]
        # One field holding the JSON list of boxes, or one field per box.
        return boxes[0] if len(boxes) == 1 and boxes[0] and isinstance(boxes[0][0], list) else boxes
    return texts[-1] if texts else None


def _form_box(text: str, name: str) -> Any:
    try:
        return json.loads(text) if text.startswith("[") else text.split(",")
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"{name}: give [x1, y1, x2, y2] or x1,y1,x2,y2 ({error.msg})") from error


async def _multipart_query(request: Request) -> tuple[bytes | None, SearchRequest]:
    """The form's image (none when it names a `query_id`) and its fields."""
    form = await request.form(max_files=1)
    upload = form.get("file")
    fields = {name: _form_value(name, form.getlist(name)) for name in FORM_FIELDS if name in form}
    parameters = SearchRequest.model_validate(fields)
    if isinstance(upload, UploadFile) == (parameters.query_id is not None):
        raise InvalidRequest("send the query image as a multipart field named 'file', or a 'query_id', not both")
    return (await upload.read() if isinstance(upload, UploadFile) else None), parameters


def _options(parameters: SearchParameters) -> SearchOptions:
    offset = decode_search_cursor(parameters.cursor) if parameters.cursor else 0
    return SearchOptions(
        k=parameters.k,
        objects=parameters.object_positions(),
        boxes=parameters.box_values(),
        target=parameters.target,
        labels=tuple(parameters.labels),
        tags=tuple(parameters.tags),
        kinds=tuple(parameters.kinds),
        min_similarity=parameters.min_similarity,
        offset=offset,
        expand=parameters.expand,
        all_matches=parameters.all_matches,
    )


def _response(outcome: SearchOutcome, started: float) -> SearchResponse:
    query = outcome.query
    page = outcome.page
    return SearchResponse(
        query_id=query.query_id,
        query=QueryPublic(
            width=query.width,
            height=query.height,
            objects=[ObjectPublic.of(obj) for obj in query.objects],
            used=UsedQuery.of(query.used),
            parts=[UsedQuery.of(part) for part in query.parts],
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
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        # One image and a few small fields.
        limit_body(request, settings.max_upload_bytes + settings.max_json_bytes)
        data, form = await _multipart_query(request)
        if data is None:
            outcome = await services.runner.run(searcher.by_query_id, form.query_id, _options(form))
        else:
            outcome = await services.runner.run(searcher.by_bytes, data, _options(form))
        return _response(outcome, started)
    body = await read_json(request, SearchRequest, settings.max_json_bytes)
    if sum(source is not None for source in (body.url, body.image_id, body.query_id)) != 1:
        raise InvalidRequest("give exactly one of 'url', 'image_id' or 'query_id' (or upload a 'file' as multipart)")
    options = _options(body)
    if body.image_id is not None:
        outcome = await services.runner.run(searcher.by_image_id, body.image_id, options)
    elif body.query_id is not None:
        outcome = await services.runner.run(searcher.by_query_id, body.query_id, options)
    else:
        data = await services.downloads.fetch(str(body.url))
        outcome = await services.runner.run(searcher.by_bytes, data, options)
    return _response(outcome, started)
