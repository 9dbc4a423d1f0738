"""Why the pipeline refuses an upload: stable codes a transport turns into its own answer (api/errors.py)."""

from enum import StrEnum


class RejectCode(StrEnum):
    """Stable, client-visible reason an image was refused."""

    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    CORRUPT = "corrupt"
    TOO_MANY_BYTES = "too_many_bytes"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_SMALL = "too_small"


class ImageRejected(Exception):
    """An upload the pipeline refuses; `code` says why for machines, `message` for people."""

    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
