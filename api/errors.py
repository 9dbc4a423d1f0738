"""Every error leaves the API as `{"error": {"code", "message"}}` with a fitting status; one place maps them."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.model_runner import Saturated
from imgsearch.errors import BackendUnavailable, ImgsearchError, InvalidRequest, ModelMismatch, NotFound
from imgsearch.jobs import JobNotResumable
from imgsearch.query_sessions import QueryExpired
from imgsearch.url_fetch import FetchFailed, FetchRefused, FetchTooLarge
from pipeline.errors import ImageRejected, RejectCode
from pipeline.models.offline import ModelWeightsMissing

log = logging.getLogger("imgsearch.api")

# Most specific first: the first class an error is an instance of decides.
STATUS_BY_ERROR: tuple[tuple[type[ImgsearchError], int], ...] = (
    (NotFound, 404),
    (QueryExpired, 410),
    (JobNotResumable, 409),
    (ModelMismatch, 409),
    (FetchTooLarge, 413),
    (FetchRefused, 422),
    (FetchFailed, 422),
    (InvalidRequest, 422),
    (Saturated, 503),
    (BackendUnavailable, 503),
)


STATUS_BY_REJECT_CODE: dict[RejectCode, int] = {
    RejectCode.EMPTY: 422,
    RejectCode.NOT_AN_IMAGE: 415,
    RejectCode.UNSUPPORTED_FORMAT: 415,
    RejectCode.CORRUPT: 422,
    RejectCode.TOO_MANY_BYTES: 413,
    RejectCode.TOO_MANY_PIXELS: 413,
    RejectCode.TOO_SMALL: 422,
}


class Unauthorized(ImgsearchError):
    code = "unauthorized"


class PayloadTooLarge(ImgsearchError):
    code = "too_many_bytes"


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def status_of(error: ImgsearchError) -> int:
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, PayloadTooLarge):
        return 413
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(error, kind)), 500)


async def _imgsearch_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ImgsearchError)
    status = status_of(error)
    headers = None
    if status == 503:
        # How long a client should wait: a store names its own (a node restarting), a full queue clears fast.
        headers = {"Retry-After": str(getattr(error, "retry_after_s", 1))}
    return error_response(status, error.code, error.message, headers)


async def _image_rejected(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ImageRejected)
    return error_response(STATUS_BY_REJECT_CODE[error.code], error.code.value, error.message)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    """FastAPI's own parameter checks and the bodies a route validates itself read the same."""
    assert isinstance(error, RequestValidationError | ValidationError)
    problems = [f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()]
    return error_response(422, "invalid_request", "; ".join(problems))


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return error_response(error.status_code, f"http_{error.status_code}", str(error.detail), error.headers)


async def _weights_missing(_: Request, error: Exception) -> JSONResponse:
    return error_response(503, "models_unavailable", str(error), {"Retry-After": "60"})


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "-")
    log.exception("unhandled error", extra={"request_id": request_id})
    return error_response(500, "internal", f"internal error; the server log has the details (request {request_id})")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ImgsearchError, _imgsearch_error)
    app.add_exception_handler(ImageRejected, _image_rejected)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ModelWeightsMissing, _weights_missing)
    app.add_exception_handler(Exception, _unexpected)
