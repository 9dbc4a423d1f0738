"""Domain errors raised by the core; the API turns each into one JSON error body and status."""

from __future__ import annotations


class ImgsearchError(Exception):
    """Base class: `code` is stable and client-visible, the message says what to do."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ImgsearchError):
    code = "not_found"


class ModelMismatch(ImgsearchError):
    """Vectors from one model stack must never be compared with another's."""

    code = "model_mismatch"


class InvalidRequest(ImgsearchError):
    code = "invalid_request"


class BackendUnavailable(ImgsearchError):
    """A store (Elasticsearch, MinIO, the embedded files) did not answer or answered that it cannot serve now.

    The request may or may not have taken effect; retrying it later is safe (ingest is idempotent).
    """

    code = "backend_unavailable"

    def __init__(self, store: str, message: str, retry_after_s: int = 5) -> None:
        super().__init__(f"{store} is unavailable: {message}")
        self.store = store
        self.retry_after_s = retry_after_s
