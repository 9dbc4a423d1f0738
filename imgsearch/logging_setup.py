"""Structured JSON logs on stderr (python-json-logger), one object per line."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter("{asctime}{levelname}{name}{message}", style="{", rename_fields={"levelname": "level"})
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our access log replaces uvicorn's, which would print full URLs (with their query strings).
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs whole request URLs (query strings included) at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
