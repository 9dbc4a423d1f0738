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


class StorageUnavailable(ImgsearchError):
    code = "storage_unavailable"
