"""Request bodies read under a per-route limit, after the route's dependencies (the API key) have run.

A route that declares a body parameter has FastAPI read and parse the body before any dependency; ours read it
themselves, so a request without a key is refused before a byte of its body is read.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel

from api.errors import PayloadTooLarge
from api.middleware import BODY_LIMIT_STATE, too_large_message

ModelT = TypeVar("ModelT", bound=BaseModel)


def limit_body(request: Request, max_bytes: int) -> None:
    """From now on this request's body may have at most `max_bytes`: refused at once by Content-Length, else as
    soon as the stream passes it (`BodyLimitMiddleware` counts)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(too_large_message(max_bytes))
    request.scope.setdefault("state", {})[BODY_LIMIT_STATE] = max_bytes


async def read_json(request: Request, model: type[ModelT], max_bytes: int) -> ModelT:
    """The body parsed as `model`, read under `max_bytes`; malformed JSON is a 422 like any invalid field."""
    limit_body(request, max_bytes)
    return model.model_validate_json(await request.body())
