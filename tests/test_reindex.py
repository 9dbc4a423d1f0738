"""`imgsearch reindex` on both back ends: a new index with another embedder setting (the crop margin), built from
the stored originals while a process with the old models keeps searching, then switched to atomically."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from imgsearch.backends import build_generations, build_job_store
from imgsearch.core import Core, open_core, opened_core
from imgsearch.errors import IndexReplaced, ModelMismatch
from imgsearch.index.embedded import EmbeddedIndex
from imgsearch.jobs import Job
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.reindex import Reindexer
from imgsearch.scenebench import SceneConfig, generate
from imgsearch.search import SearchOptions
from imgsearch.settings import REPO_ROOT, Settings
from imgsearch.storage.base import BlobKind
from imgsearch.storage.filesystem import FilesystemBlobStore
from tests.command_environment import command_environment, settings_of
from tests.fixtures import jpeg_bytes, scene

IMAGES = 40
NEW_MARGIN = "0.2"  # the starter models' crop margin is 0.1: a different model id, the same vector size


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    scenes = generate(3, IMAGES, split="test", config=SceneConfig(train_only_identities=False)).scenes("test")
    return [scene.jpeg_bytes for scene in scenes[:IMAGES]]


@pytest.fixture(params=["embedded", pytest.param("servers", marks=pytest.mark.integration)])
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield from command_environment(request, tmp_path, request.param, "test-reindex", torch_threads=1)


class SearchLoop(threading.Thread):
    """Searches without pause, as a server with the old models would answer them; keeps every error."""

    def __init__(self, core: Core, query: bytes) -> None:
        super().__init__(daemon=True)
        self.core, self.query = core, query
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.answered: list[float] = []
        self.top_ids: set[str] = set()

    def run(self) -> None:
        query_id = None
        while not self.stop.is_set():
            try:
                if query_id is None or len(self.answered) % 5 == 0:  # the models too, not only the index
                    outcome = self.core.searcher.by_bytes(self.query, SearchOptions(k=5))
                    query_id = outcome.query.query_id
                else:
                    outcome = self.core.searcher.by_query_id(query_id, SearchOptions(k=5))
                self.top_ids.add(outcome.page.hits[0].image_id)
                self.answered.append(time.monotonic())
            except BaseException as error:  # noqa: BLE001 (the test reports whatever it was)
                self.errors.append(error)
                return


def in_use(settings: Settings) -> str | None:
    generations = build_generations(settings)
    try:
        return generations.in_use()
    finally:
        generations.close()


def test_reindex_switches_while_searches_with_the_old_models_keep_answering(
    environment: dict[str, str], photos: list[bytes]
) -> None:
    old_settings = settings_of(environment)
    new_environment = environment | {"IMGSEARCH_CROP_MARGIN": NEW_MARGIN}
    new_settings = settings_of(new_environment)
    old = open_core(old_settings)
    for tags, parity in (((), 0), (("kept",), 1)):  # one bulk write a batch: Elasticsearch refreshes for each
        sources = [(f"upload:{n}.jpg", lambda data=data: data) for n, data in enumerate(photos) if n % 2 == parity]
        assert all(not isinstance(outcome, Exception) for _, outcome in old.ingestor.ingest_many(sources, tags))
    old_index = in_use(old_settings)
    loop = SearchLoop(old, photos[0])
    loop.start()
    try:
        started = time.monotonic()
        reindex = subprocess.run([sys.executable, "-m", "cli.main", "reindex", "--json"], env=new_environment,
                                 cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
        finished = time.monotonic()
        assert reindex.returncode == 0, reindex.stderr[-2000:]
        while sum(moment > finished for moment in loop.answered) < 5 and loop.is_alive():
            time.sleep(0.05)  # a few more searches from the old index once the new one is in use
    finally:
        loop.stop.set()
        loop.join(30)
    assert loop.errors == []
    assert sum(started < moment < finished for moment in loop.answered) >= 10
    summary = json.loads(reindex.stdout)
    assert (summary["state"], summary["images"], summary["done"], summary["failed"]) == ("done", IMAGES, IMAGES, 0)
    assert summary["switched"] and summary["source"] == old_index
    assert in_use(new_settings) == summary["target"] != old_index
    query_image = loop.top_ids.pop()
    assert loop.top_ids == set()  # the same top result before, during and after the switch

    late = jpeg_bytes(scene(seed=7))
    with pytest.raises(IndexReplaced):  # the old process may read its index, not write to a replaced one
        old.ingestor.ingest(late, "upload:late.jpg")
    assert not old.blobs.exists(BlobKind.ORIGINAL, hashlib.sha256(late).hexdigest())  # refused before any write
    with pytest.raises(IndexReplaced):  # a write past the ingestor's check: the store itself refuses it
        old.index.delete(query_image)
    new = open_core(new_settings)
    try:
        assert new.index.image_count() == IMAGES
        outcome = new.searcher.by_bytes(photos[0], SearchOptions(k=5))
        assert outcome.page.hits[0].image_id == query_image
        document = new.index.get(query_image)
        assert document is not None and document.model_id == new.pipeline.model_id
        assert document.source == "upload:0.jpg" and document.tags == ()
        assert len(new.searcher.by_bytes(photos[0], SearchOptions(k=50, tags=("kept",))).page.hits) == IMAGES // 2
    finally:
        new.close()
    with pytest.raises(ModelMismatch, match="imgsearch reindex"):  # a process started with the old models now
        open_core(old_settings).close()

    generations = build_generations(new_settings)
    try:
        assert old_index in generations.not_in_use()  # kept until --drop-old
    finally:
        generations.close()
    old.close()
    command = [sys.executable, "-m", "cli.main", "reindex", "--drop-old"]
    reindex_again = subprocess.run(command, env=new_environment, cwd=REPO_ROOT, capture_output=True, text=True,
                                   timeout=300)  # fmt: skip
    assert reindex_again.returncode == 0, reindex_again.stderr[-2000:]
    assert "nothing to re-index" in reindex_again.stderr and f"dropped {old_index}" in reindex_again.stderr
    generations = build_generations(new_settings)
    try:
        assert generations.not_in_use() == []
    finally:
        generations.close()


@pytest.fixture
def embedded_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("IMGSEARCH_ES_URL", "IMGSEARCH_S3_ENDPOINT", "IMGSEARCH_CROP_MARGIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMGSEARCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IMGSEARCH_MODELS", "starter")
    monkeypatch.setenv("IMGSEARCH_TORCH_THREADS", "2")
    return Settings()


def test_an_interrupted_reindex_goes_on_where_it_stopped_and_switches_once(
    embedded_env: Settings, photos: list[bytes], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with opened_core(embedded_env, build_pipeline(embedded_env)) as core:
        for number, data in enumerate(photos[:12]):
            core.ingestor.ingest(data, f"upload:{number}.jpg")
    monkeypatch.setenv("IMGSEARCH_CROP_MARGIN", NEW_MARGIN)
    monkeypatch.setattr("imgsearch.reindex.PAGE", 4)
    pages: list[int] = []
    copy = Reindexer.copy

    def stopped_after_two_pages(self: Reindexer, _stop_requested: object) -> bool:
        return copy(self, lambda: pages.append(1) or len(pages) > 2)  # as Ctrl-C would, between pages

    monkeypatch.setattr(Reindexer, "copy", stopped_after_two_pages)
    assert main(["reindex", "--json"]) == 1
    stopped = json.loads(capsys.readouterr().out)
    assert (stopped["state"], stopped["done"], stopped["switched"]) == ("interrupted", 8, False)
    assert in_use(Settings()) == "index"
    monkeypatch.setattr(Reindexer, "copy", copy)

    assert main(["reindex", "--json"]) == 0  # the same command again goes on with it
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["job"] == stopped["job"] and (resumed["done"], resumed["duplicates"]) == (12, 0)
    assert in_use(Settings()) == resumed["target"]
    assert main(["reindex", "--resume", stopped["job"]]) == 1  # done: nothing to go on with
    assert (
        capsys.readouterr().err.strip()
        == f"imgsearch: job {stopped['job']} is done: only an interrupted or failed re-index goes on"
    )


def test_catch_up_copies_new_images_drops_deleted_ones_and_takes_changed_tags(
    embedded_env: Settings, photos: list[bytes], tmp_path: Path
) -> None:
    with opened_core(embedded_env, build_pipeline(embedded_env)) as core:
        ids = [core.ingestor.ingest(data, f"upload:{n}.jpg").document.image_id for n, data in enumerate(photos[:4])]
        target = EmbeddedIndex(tmp_path / "target")
        target.ensure(core.pipeline.model_id, core.pipeline.dim)
        job = Job(id="j", kind="reindex")
        reindexer = Reindexer(core.pipeline, core.blobs, core.index, target, job)
        assert reindexer.copy(lambda: False)
        core.ingestor.ingest(photos[4], "upload:4.jpg")  # after the copy
        core.index.delete(ids[1])
        core.index.set_tags(ids[2], ["later"])
        changes = reindexer.catch_up()
        assert (changes.added, changes.removed, changes.retagged) == (1, 1, 1)
        expected = [(d.image_id, d.source, d.tags) for d in core.index.documents_after(None, 10)]
        assert [(d.image_id, d.source, d.tags) for d in target.documents_after(None, 10)] == expected
        assert reindexer.catch_up() == type(changes)()  # level now
        target.close()


def test_a_lost_original_fails_its_image_and_nothing_is_switched(
    embedded_env: Settings, photos: list[bytes], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with opened_core(embedded_env, build_pipeline(embedded_env)) as core:
        lost = core.ingestor.ingest(photos[0], "upload:0.jpg").document.image_id
        core.ingestor.ingest(photos[1], "upload:1.jpg")
        assert isinstance(core.blobs, FilesystemBlobStore)
        core.blobs.delete(BlobKind.ORIGINAL, lost)
    monkeypatch.setenv("IMGSEARCH_CROP_MARGIN", NEW_MARGIN)
    assert main(["reindex", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["state"], summary["failed"], summary["switched"]) == ("failed", 1, False)
    assert summary["errors"][0]["image_id"] == lost and "missing" in summary["errors"][0]["message"]
    assert in_use(Settings()) == "index"
    assert main(["reindex", "--skip-failed", "--json"]) == 0  # goes on with the failed job, then switches
    switched = json.loads(capsys.readouterr().out)
    assert switched["job"] == summary["job"] and switched["switched"] and switched["failed"] == 1


def test_bad_input_is_one_line_and_changes_nothing(embedded_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reindex"]) == 0
    assert "nothing is indexed yet" in capsys.readouterr().err
    assert main(["reindex", "--resume", "0" * 32]) == 1
    assert capsys.readouterr().err == f"imgsearch: no job {'0' * 32}\n"
    store = build_job_store(Settings(), None)
    try:
        assert store.newest(5) == []
    finally:
        store.close()
