"""The command line: reconcile and optimize on the embedded back end; a non-zero exit code on bad input."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from imgsearch.storage.base import BlobKind
from imgsearch.storage.filesystem import FilesystemBlobStore


@pytest.fixture
def embedded_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings from the environment select the embedded back end, with its files in a temporary folder."""
    for name in ("IMGSEARCH_ES_URL", "IMGSEARCH_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMGSEARCH_DATA_DIR", str(tmp_path))
    return tmp_path


def test_reconcile_removes_an_old_orphan_blob(embedded_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blobs = FilesystemBlobStore(embedded_data_dir / "blobs")
    blobs.ensure()
    blobs.put(BlobKind.ORIGINAL, "a" * 64, b"left behind", "image/jpeg")
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    orphan = next((embedded_data_dir / "blobs" / "original").rglob("a" * 64))
    os.utime(orphan, (an_hour_ago, an_hour_ago))

    assert main(["reconcile"]) == 0
    assert "1 orphan blobs" in capsys.readouterr().out
    assert not blobs.exists(BlobKind.ORIGINAL, "a" * 64)


def test_a_bad_argument_exits_non_zero_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["reconcile", "--grace-minutes", "not-a-number"])
    assert exited.value.code == 2
    assert "invalid float value" in capsys.readouterr().err


def test_optimize_on_the_embedded_index_says_there_is_nothing_to_merge(
    embedded_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    del embedded_data_dir
    assert main(["optimize"]) == 0
    assert capsys.readouterr().out.strip() == "optimize: the embedded index keeps one graph: nothing to merge"
