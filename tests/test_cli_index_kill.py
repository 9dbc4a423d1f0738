"""`imgsearch index` killed with SIGKILL mid-run, then `--resume`: every image indexed once, no orphan blobs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgsearch.backends import build_blob_store, build_index
from imgsearch.connections import elasticsearch_client
from imgsearch.job_store import ElasticsearchJobStore, JobStore, SqliteJobStore
from imgsearch.jobs import Job, JobState
from imgsearch.scenebench import SceneConfig, generate
from imgsearch.settings import REPO_ROOT, Settings
from imgsearch.storage.base import BlobKind
from tests.command_environment import command_environment, settings_of

IMAGES = 120


@pytest.fixture(params=["embedded", pytest.param("servers", marks=pytest.mark.integration)])
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield from command_environment(request, tmp_path, request.param, "test-kill", torch_threads=2)


def running_job(settings: Settings, at_least: int, process: subprocess.Popen[bytes]) -> Job:
    """The command's job record once it has recorded `at_least` images (read beside the running command: the
    embedded index's directory is the command's alone, its job records are not)."""
    if settings.uses_elasticsearch:
        store: JobStore = ElasticsearchJobStore(elasticsearch_client(settings), settings.es_index_alias)
    else:
        store = SqliteJobStore(settings.data_dir / "jobs.sqlite3")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                stdout = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"the run ended before it could be killed: {stdout[-400:]} {stderr[-800:]}")
            jobs = store.newest(1)
            if jobs and jobs[0].state is JobState.RUNNING and jobs[0].done >= at_least:
                return jobs[0]
            time.sleep(0.05)
        raise AssertionError("the run recorded no progress")
    finally:
        store.close()


def test_a_killed_run_resumes_and_indexes_every_image_once(tmp_path: Path, environment: dict[str, str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    scenes = generate(21, IMAGES, split="test", config=SceneConfig(train_only_identities=False)).scenes("test")
    for scene in scenes:
        (photos / f"{scene.scene_id}.jpg").write_bytes(scene.jpeg_bytes)
    command = [sys.executable, "-m", "cli.main", "index", str(photos), "--json"]
    process = subprocess.Popen(command, env=environment, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    settings = settings_of(environment)
    job = running_job(settings, at_least=8, process=process)
    process.send_signal(signal.SIGKILL)
    process.wait(30)

    resumed = subprocess.run([sys.executable, "-m", "cli.main", "index", "--resume", job.id, "--json"],
                             env=environment, cwd=REPO_ROOT, capture_output=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr.decode()
    summary = json.loads(resumed.stdout)
    assert (summary["job"], summary["state"], summary["done"], summary["failed"]) == (job.id, "done", IMAGES, 0)

    index, blobs = build_index(settings), build_blob_store(settings)
    try:
        stored = index.stats().images
        assert stored == IMAGES  # every image once: ids are content hashes and writes are create-only
        browsed, cursor = [], None
        while True:
            page = index.browse(cursor, 100)
            browsed += [document.image_id for document in page.images]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(set(browsed)) == IMAGES
        originals = {image_id for image_id, _ in blobs.list_ids(BlobKind.ORIGINAL)}
        assert originals == set(browsed)  # no orphan blob, none missing
    finally:
        index.close()
