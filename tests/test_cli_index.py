"""`imgsearch index`: a photo library from the command line, on the embedded back end with the starter models."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from cli.main import main
from cli.stop_after_batch import StopAfterBatch
from imgsearch.scenebench import SceneConfig, generate


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder as people have them: nested, odd names, a non-image, a broken image, a link out of it."""
    for name in ("IMGSEARCH_ES_URL", "IMGSEARCH_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMGSEARCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IMGSEARCH_MODELS", "starter")
    monkeypatch.setenv("IMGSEARCH_TORCH_THREADS", "2")
    scenes = generate(3, 5, split="test", config=SceneConfig(train_only_identities=False)).scenes("test")
    root = tmp_path / "photos"
    (root / "2024" / "paris").mkdir(parents=True)
    (root / "2024" / "paris" / "IMG_0001.JPG").write_bytes(scenes[0].jpeg_bytes)
    (root / "2024" / "IMG_0002").write_bytes(scenes[1].jpeg_bytes)  # no extension: an image by its content
    (root / "scan.txt").write_bytes(scenes[2].jpeg_bytes)  # a wrong one
    (root / "notes.jpg").write_text("not a picture")  # an image by name only
    (root / "broken.jpg").write_bytes(scenes[3].jpeg_bytes[:400])  # starts like a JPEG, cut short
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "private.jpg").write_bytes(scenes[4].jpeg_bytes)
    (root / "link-out").symlink_to(outside)
    (root / "private-link.jpg").symlink_to(outside / "private.jpg")
    return root


def test_a_folder_is_indexed_by_content_and_a_second_run_skips_what_is_in(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    errors = tmp_path / "errors.tsv"
    assert main(["index", str(library), "--json", "--errors", str(errors), "--tag", "holiday"]) == 1  # one failed
    summary = json.loads(capsys.readouterr().out)
    assert (summary["sources"], summary["added"], summary["failed"], summary["not_images"]) == (4, 3, 1, 1)
    assert summary["objects"] > 0 and summary["state"] == "failed"
    assert errors.read_text().startswith(f"file://{library / 'broken.jpg'}\t")
    assert [error["source"] for error in summary["errors"]] == [f"file://{library / 'broken.jpg'}"]

    (library / "broken.jpg").unlink()
    assert main(["index", str(library), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["added"], again["duplicates"], again["failed"]) == (0, 3, 0)

    assert main(["search", str(library / "scan.txt"), "--tag", "holiday", "--json", "-k", "5"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 3


def test_a_list_file_and_single_files(library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text(f"# my picks\n{library / '2024' / 'IMG_0002'}\n\n")
    assert main(["index", str(library / "scan.txt"), "--from", str(listed), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["sources"], summary["added"]) == (2, 2)
    assert main(["index", str(tmp_path / "nowhere")]) == 1
    assert "is not a file, a folder" in capsys.readouterr().err
    assert main(["index", "s3://photos/2024"]) == 1
    assert "no MinIO/S3 is configured" in capsys.readouterr().err


def test_the_progress_and_summary_are_printed_for_people(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (library / "broken.jpg").unlink()
    assert main(["index", str(library)]) == 0
    printed = capsys.readouterr().err
    assert "indexed 3 of 3: 3 added, 0 already indexed, 0 failed" in printed
    assert "1 files skipped as not images" in printed


def test_ctrl_c_stops_the_sources_after_the_batch_in_flight() -> None:
    sources = [(f"s{n}", lambda: b"") for n in range(5)]
    taken = []
    with StopAfterBatch() as stop:
        for name, _ in stop.sources(sources):
            taken.append(name)
            if len(taken) == 2:
                signal.raise_signal(signal.SIGINT)  # the handler asks for a stop: no KeyboardInterrupt
        assert stop.requested.is_set()
    assert taken == ["s0", "s1"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.integration
def test_a_bucket_prefix_is_indexed_on_elasticsearch_and_minio(
    server_settings, es, minio, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import uuid

    from imgsearch.maintenance import drop_buckets, drop_es_alias

    run = f"test-cli-{uuid.uuid4().hex[:10]}"
    photos = f"{run}-photos"
    settings = {"ES_URL": str(server_settings.es_url), "S3_ENDPOINT": str(server_settings.s3_endpoint),
                "ES_INDEX_ALIAS": run, "S3_BUCKET_ORIGINALS": f"{run}-o", "S3_BUCKET_THUMBNAILS": f"{run}-t",
                "MODELS": "starter", "TORCH_THREADS": "2"}  # fmt: skip
    for name, value in settings.items():
        monkeypatch.setenv(f"IMGSEARCH_{name}", value)
    minio.make_bucket(photos)
    try:
        scenes = generate(4, 3, split="test", config=SceneConfig(train_only_identities=False)).scenes("test")
        for number, scene in enumerate(scenes):
            minio.put_object(photos, f"2024/{number}.jpg", io.BytesIO(scene.jpeg_bytes), len(scene.jpeg_bytes))
        minio.put_object(photos, "2023/old.jpg", io.BytesIO(scenes[0].jpeg_bytes), len(scenes[0].jpeg_bytes))
        assert main(["index", f"s3://{photos}/2024/", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert (summary["sources"], summary["added"], summary["failed"]) == (3, 3, 0)
        assert es.count(index=run)["count"] == 3
        assert main(["index", f"s3://{run}-missing/x", "--json"]) == 1
        assert "no bucket" in capsys.readouterr().err
    finally:
        drop_es_alias(es, run)
        drop_buckets(minio, [photos, f"{run}-o", f"{run}-t"])


def test_an_interrupted_run_resumes_where_it_stopped(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    from imgsearch.job_store import SqliteJobStore
    from imgsearch.jobs import JobState

    (library / "broken.jpg").unlink()
    assert main(["index", str(library), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    store = SqliteJobStore(Path(os.environ["IMGSEARCH_DATA_DIR"]) / "jobs.sqlite3")
    try:
        job = store.get(first["job"])
        assert job is not None and (job.kind, job.state, job.done) == ("index", JobState.DONE, 3)
        # What Ctrl-C after the first image leaves behind.
        job.state, job.done, job.duplicates, job.finished_at = JobState.INTERRUPTED, 1, 0, None
        job.updated_at = datetime.now(UTC)
        store.save(job)
        assert main(["index", "--resume", job.id, "--json"]) == 0
        resumed = json.loads(capsys.readouterr().out)
        assert (resumed["job"], resumed["done"], resumed["duplicates"], resumed["state"]) == (job.id, 3, 2, "done")
        assert main(["index", "--resume", job.id]) == 1
        assert "only an interrupted job can be resumed" in capsys.readouterr().err
        assert main(["index", "--resume", "0" * 32]) == 1
        assert "no job" in capsys.readouterr().err
    finally:
        store.close()
