"""The committed starter models: intact files matching the manifest, and search quality on unseen identities."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cli.main import main
from imgsearch.evaluation.metrics import box_iou
from imgsearch.scenebench import generate
from imgsearch.settings import Settings
from imgsearch.starter_models import with_starter_models
from imgsearch.training.manifest import MANIFEST, STARTER_DIR, read_manifest
from imgsearch.training.weights import file_sha256
from pipeline.config import PipelineConfig
from pipeline.runner import Pipeline

MAX_COMMITTED_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def starter_pipeline() -> Pipeline:
    pipeline = Pipeline.from_config(with_starter_models(PipelineConfig(torch_threads=2)))
    pipeline.load()
    return pipeline


def test_manifest_entries_match_the_committed_files() -> None:
    manifest = read_manifest(MANIFEST)
    total = 0
    for key in ("detector", "embedder"):
        entry = manifest[key]
        path = STARTER_DIR / entry["file"]
        assert file_sha256(path) == entry["sha256"], f"{path} differs from its manifest entry"
        assert path.stat().st_size == entry["bytes"]
        assert entry["command"].startswith(f"imgsearch train {key}")
        assert isinstance(entry["training"]["seed"], int)
        total += entry["bytes"]
    assert total <= MAX_COMMITTED_BYTES


def test_starter_detector_finds_objects_of_identities_it_never_saw(starter_pipeline: Pipeline) -> None:
    scenes = generate(seed=4242, n_scenes=12, split="test").test_scenes
    analyzed = starter_pipeline.detect([starter_pipeline.decode(scene.jpeg_bytes) for scene in scenes])
    truths = [instance.box for scene in scenes for instance in scene.instances]
    found = sum(
        any(box_iou(box.tolist(), instance.box) >= 0.5 for box in image.boxes_xyxy)
        for scene, image in zip(scenes, analyzed, strict=True)
        for instance in scene.instances
    )
    assert found / len(truths) >= 0.8, f"{found} of {len(truths)} test-split objects detected"


def test_query_augmentation_finds_the_large_objects_of_query_images(starter_pipeline: Pipeline) -> None:
    # An object query shows its object up to twice as large, relative to the detector's input, as gallery scenes
    # do; the starter detector never saw objects that large, and the flipped and down-scaled copies bring them back.
    queries = generate(seed=4242, n_scenes=30, split="test", n_object_queries=30, n_scene_queries=0).queries
    config = starter_pipeline.config
    augmenting = Pipeline(
        dataclasses.replace(config, detector=dataclasses.replace(config.detector, augment="queries")),
        starter_pipeline.detector,
        starter_pipeline.embedder,
    )

    def found_share(pipeline: Pipeline) -> float:
        found = 0
        for query in queries:
            analyzed = pipeline.detect([pipeline.decode(query.jpeg_bytes)], for_query=True)[0]
            truth = query.composition.visible_box(0)
            found += any(box_iou(box.tolist(), truth) >= 0.5 for box in analyzed.boxes_xyxy)
        return found / len(queries)

    plain, augmented = found_share(starter_pipeline), found_share(augmenting)
    assert augmented >= 0.9, f"query objects found with augmentation: {augmented:.2f}"
    assert augmented >= plain + 0.1, f"augmentation found {augmented:.2f} of query objects against {plain:.2f}"


def test_eval_on_the_embedded_index_ranks_object_search_above_whole_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMGSEARCH_TORCH_THREADS", "2")
    report_path = tmp_path / "eval.json"
    argv = ["eval", "--scenes", "40", "--object-queries", "12", "--scene-queries", "4", "--json", str(report_path)]
    assert main(argv) == 0
    report = json.loads(report_path.read_text())
    by_object, by_whole = report["results"]["object/object"], report["results"]["object/whole-image"]
    assert by_object["queries"] == by_whole["queries"] == 12
    assert report["results"]["scene/object"]["queries"] == 4
    assert by_object["map_at_100"] > by_whole["map_at_100"]
    assert by_object["map_at_100"] >= 0.5
    assert by_object["box_iou_share"] >= 0.7
    assert report["setup"]["backend"] == "embedded" and report["setup"]["models"] == "starter"
    upload_only = report["results"]["object/upload-only"]
    assert upload_only["queries"] == 12 and upload_only["map_at_100"] >= by_object["map_at_100"] - 0.15
    assert upload_only["query_objects_median"] >= 1
    assert report["goals"]["click_latency_ratio"]["value"] < 1
    printed = capsys.readouterr().out
    assert "mAP@100" in printed and "upload-only" in printed and "click_latency_ratio" in printed


@pytest.mark.integration
def test_eval_on_elasticsearch_and_minio_leaves_nothing_behind(
    server_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, es, minio
) -> None:
    monkeypatch.setenv("IMGSEARCH_ES_URL", str(server_settings.es_url))
    monkeypatch.setenv("IMGSEARCH_S3_ENDPOINT", str(server_settings.s3_endpoint))
    report_path = tmp_path / "eval.json"
    argv = ["eval", "--backend", "servers", "--scenes", "12", "--object-queries", "4", "--scene-queries", "0"]
    assert main([*argv, "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["setup"]["backend"] == "elasticsearch+minio"
    assert report["ingest"]["images"] == 12
    assert report["results"]["object/object"]["queries"] == 4
    assert not [name for name in es.indices.get_alias(index="imgsearch-eval-*")]
    assert not [b.name for b in minio.list_buckets() if b.name.startswith("imgsearch-eval-")]


def test_starter_preset_uses_the_manifest_recommendations_unless_they_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from imgsearch.pipeline_factory import pipeline_config

    for name in ("CONFIDENCE", "IOU", "AUGMENT"):
        monkeypatch.delenv(f"IMGSEARCH_DETECTOR_{name}", raising=False)
    serving = read_manifest(MANIFEST)["serving"]
    starter = pipeline_config(Settings(models="starter"))
    assert (starter.detector.confidence, starter.detector.iou, starter.detector.augment) == (
        serving["detector_confidence"],
        serving["detector_iou"],
        serving["detector_augment"],
    )
    assert starter.detector.checkpoint == STARTER_DIR / read_manifest(MANIFEST)["detector"]["file"]
    chosen = pipeline_config(
        Settings(models="starter", detector_confidence=0.5, detector_iou=0.45, detector_augment="all")
    ).detector
    assert (chosen.confidence, chosen.iou, chosen.augment) == (0.5, 0.45, "all")
    partly = pipeline_config(Settings(models="starter", detector_iou=0.45)).detector
    assert (partly.confidence, partly.augment) == (serving["detector_confidence"], serving["detector_augment"])
    assert pipeline_config(Settings()).detector.augment == "none"
    assert pipeline_config(Settings()).detector.checkpoint is None
