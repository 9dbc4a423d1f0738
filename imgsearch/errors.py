"""Domain errors raised by the core; the API turns each into one JSON error body and status."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


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


class IndexReplaced(ModelMismatch):
    """This process opened an index that `imgsearch reindex` has since replaced: it may read it, never write."""

    code = "index_replaced"


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


class outages_raised(AbstractContextManager[None]):  # noqa: N801 (used like the function it was)
    """Inside: a caught error that `outage_of` maps to an outage is raised as that `BackendUnavailable`; any
    other error goes on as it was. A class, not a generator: the embedded index's every search passes here, and
    one instance serves every call of a decorated method."""

    def __init__(
        self, catch: tuple[type[Exception], ...], outage_of: Callable[[Exception], BackendUnavailable | None]
    ) -> None:
        self._catch, self._outage_of = catch, outage_of

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> None:
        if isinstance(error, self._catch):
            outage = self._outage_of(error)
            if outage is not None:
                raise outage from error


def outages_translated(
    catch: tuple[type[Exception], ...], outage_of: Callable[[Exception], BackendUnavailable | None]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`outages_raised` as a decorator for a store's methods."""
    outages = outages_raised(catch, outage_of)

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def translated(*args: P.args, **kwargs: P.kwargs) -> R:
            with outages:
                return method(*args, **kwargs)

        return translated

    return decorate
