"""The command line: reconcile and optimize on the embedded back end; a non-zero exit code on bad input."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from imgsearch.evaluation.metrics import box_iou
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


@pytest.fixture
def indexed_scenes(embedded_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three SceneBench scenes indexed with the starter models; their files as a user would have them."""
    from imgsearch.core import opened_core
    from imgsearch.scenebench import SceneConfig, generate
    from imgsearch.settings import Settings

    monkeypatch.setenv("IMGSEARCH_MODELS", "starter")
    monkeypatch.setenv("IMGSEARCH_TORCH_THREADS", "2")
    bench = generate(5, 3, split="test", config=SceneConfig(train_only_identities=False))
    files = []
    with opened_core(Settings()) as core:
        for scene in bench.scenes("test"):
            core.ingestor.ingest(scene.jpeg_bytes, source=f"{scene.scene_id}.jpg")
            files.append(embedded_data_dir / f"{scene.scene_id}.jpg")
            files[-1].write_bytes(scene.jpeg_bytes)
    return files


def test_search_prints_the_results_as_json_or_a_table(
    indexed_scenes: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["search", str(indexed_scenes[1]), "-k", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["query"]["parts"][0]["auto"] is True
    assert answer["results"][0]["source"] == indexed_scenes[1].name
    # The query is detected with test-time augmentation, the stored scene without: the same object, nearly the same box.
    assert box_iou(answer["results"][0]["matches"][0]["bbox"], answer["query"]["parts"][0]["bbox"]) > 0.8

    assert main(["search", str(indexed_scenes[0]), "--target", "image", "-k", "2"]) == 0
    table = capsys.readouterr().out
    assert "searched with image (image) at [0, 0, 640, 480]" in table and indexed_scenes[0].name in table

    assert main(["search", str(indexed_scenes[2]), "--object", "0", "--box", "10,10,300,300", "--json"]) == 0
    assert [part["kind"] for part in json.loads(capsys.readouterr().out)["query"]["parts"]] == ["object", "box"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--object", "99"], "object 99 does not exist"), (["-k", "0"], "-k must be between"),
     (["--object", "0", "--target", "image"], "target 'image'")],
)  # fmt: skip
def test_search_refusals_are_one_line_and_a_non_zero_exit(
    indexed_scenes: list[Path], capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(["search", str(indexed_scenes[0]), *arguments]) == 1
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error


def test_search_with_a_file_that_is_not_an_image(
    indexed_scenes: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    not_an_image = indexed_scenes[0].with_suffix(".txt")
    not_an_image.write_text("hello")
    assert main(["search", str(not_an_image)]) == 1
    assert "not a recognisable image" in capsys.readouterr().err
    assert main(["search", str(not_an_image.with_name("missing.jpg"))]) == 1
    assert "is not a file" in capsys.readouterr().err


def test_tag_sets_and_clears_tags_and_search_filters_by_them(
    indexed_scenes: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib
    import json

    image_id = hashlib.sha256(indexed_scenes[2].read_bytes()).hexdigest()
    assert main(["tag", image_id, "paris", "2024"]) == 0
    assert capsys.readouterr().out.strip() == f"{image_id}: paris, 2024"
    assert main(["search", str(indexed_scenes[0]), "--tag", "paris", "--json"]) == 0
    assert [result["id"] for result in json.loads(capsys.readouterr().out)["results"]] == [image_id]
    assert main(["tag", image_id]) == 0
    assert capsys.readouterr().out.strip() == f"{image_id}: no tags"
    assert main(["tag", "f" * 64, "x"]) == 1
    assert "no indexed image" in capsys.readouterr().err
    assert main(["tag", image_id, "no<html>"]) == 1
    assert "tag 'no<html>'" in capsys.readouterr().err
    assert main(["tag", "not-an-id"]) == 1
    assert "is not an image id" in capsys.readouterr().err
