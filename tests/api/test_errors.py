"""One place maps domain errors to HTTP statuses (api/errors.py): every code has one, and the right one."""

from __future__ import annotations

from api.errors import STATUS_BY_REJECT_CODE, status_of
from api.model_runner import Saturated
from imgsearch.errors import BackendUnavailable, InvalidRequest, ModelMismatch, NotFound
from imgsearch.url_fetch import FetchRefused, FetchTooLarge
from pipeline.errors import RejectCode


def test_every_reject_code_has_an_http_status() -> None:
    assert set(STATUS_BY_REJECT_CODE) == set(RejectCode)
    assert STATUS_BY_REJECT_CODE[RejectCode.TOO_MANY_PIXELS] == 413
    assert STATUS_BY_REJECT_CODE[RejectCode.UNSUPPORTED_FORMAT] == 415
    assert STATUS_BY_REJECT_CODE[RejectCode.CORRUPT] == 422


def test_domain_errors_map_to_their_statuses() -> None:
    assert status_of(NotFound("x")) == 404
    assert status_of(ModelMismatch("x")) == 409
    assert status_of(FetchTooLarge("x")) == 413, "the subclass wins over FetchRefused"
    assert status_of(FetchRefused("x")) == 422
    assert status_of(InvalidRequest("x")) == 422
    assert status_of(Saturated("x")) == 503
    assert status_of(BackendUnavailable("MinIO", "x")) == 503
