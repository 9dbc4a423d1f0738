"""The settings of an `imgsearch` command run as a separate process, as environment variables, on either back end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgsearch.settings import Settings


def command_environment(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, run_prefix: str, torch_threads: int = 2
) -> Iterator[dict[str, str]]:
    """The starter models and the embedded back end in `tmp_path`, or a throw-away alias and buckets on the test
    servers (`backend` "servers"), dropped afterwards."""
    env = {**os.environ, "IMGSEARCH_MODELS": "starter", "IMGSEARCH_TORCH_THREADS": str(torch_threads),
           "IMGSEARCH_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    for name in ("IMGSEARCH_ES_URL", "IMGSEARCH_S3_ENDPOINT", "IMGSEARCH_CROP_MARGIN"):
        env.pop(name, None)
    if backend == "embedded":
        yield env
        return
    server, es, minio = (request.getfixturevalue(name) for name in ("server_settings", "es", "minio"))
    run = f"{run_prefix}-{uuid.uuid4().hex[:10]}"
    env |= {"IMGSEARCH_ES_URL": str(server.es_url), "IMGSEARCH_S3_ENDPOINT": str(server.s3_endpoint),
            "IMGSEARCH_ES_INDEX_ALIAS": run, "IMGSEARCH_S3_BUCKET_ORIGINALS": f"{run}-o",
            "IMGSEARCH_S3_BUCKET_THUMBNAILS": f"{run}-t"}  # fmt: skip
    yield env
    from imgsearch.maintenance import drop_buckets, drop_es_alias

    drop_es_alias(es, run)
    drop_buckets(minio, [f"{run}-o", f"{run}-t"])


def settings_of(env: dict[str, str]) -> Settings:
    """What the command reads from `env`."""
    values = {key.removeprefix("IMGSEARCH_").lower(): v for key, v in env.items() if key.startswith("IMGSEARCH_")}
    # Explicitly none for the embedded run: Settings would otherwise take this process's IMGSEARCH_ES_URL (CI sets it).
    return Settings.model_validate({"es_url": None, "s3_endpoint": None} | values)
