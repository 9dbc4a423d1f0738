"""Settings come from IMGSEARCH_* variables and fail fast on bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cli.main import main
from imgsearch.settings import Settings


def test_environment_variables_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGSEARCH_ES_URL", "http://es.internal:9200")
    monkeypatch.setenv("IMGSEARCH_S3_ENDPOINT", "minio.internal:9000")
    monkeypatch.setenv("IMGSEARCH_PORT", "8081")
    settings = Settings(_env_file=None)
    assert str(settings.es_url) == "http://es.internal:9200/"
    assert settings.uses_elasticsearch and settings.uses_s3
    assert settings.port == 8081


def test_defaults_select_the_embedded_back_end(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IMGSEARCH_ES_URL", "IMGSEARCH_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert not settings.uses_elasticsearch
    assert not settings.uses_s3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("s3_endpoint", "http://minio:9000"),
        ("port", 70000),
        ("es_url", "not a url"),
        ("es_index_alias", "Has Spaces"),
        ("detector_augment", "sometimes"),
    ],
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **{field: value})


def test_secrets_stay_out_of_reprs() -> None:
    settings = Settings(_env_file=None, s3_secret_key="super-secret-value", api_key="key-123")
    assert "super-secret-value" not in repr(settings)
    assert "key-123" not in repr(settings)


def test_cli_reports_a_bad_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMGSEARCH_PORT", "not-a-port")
    assert main(["serve"]) == 2
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert len(error_lines) == 1
    assert "port" in error_lines[0]


def test_an_empty_api_key_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGSEARCH_API_KEY", "")
    assert Settings(_env_file=None).api_key is None
