"""The pipeline end to end with real (configuration-built) models: records, vectors, boxes, ids, streaming."""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.errors import ImageRejected, RejectCode
from pipeline.records import ImageRecord, ObjectKind
from pipeline.runner import Pipeline, Processed
from tests.fixtures import RANDOM_CONFIG, TEST_CONFIG, jpeg_bytes, scene
from tests.pipeline.conftest import RedDetector


def test_every_vector_is_a_float32_unit_vector(pipeline: Pipeline) -> None:
    record = pipeline.process(jpeg_bytes(scene()))
    assert len(record.objects) >= 2, "the low threshold should let the random detector find objects"
    for obj in record.objects:
        assert obj.vector.dtype == np.float32
        assert obj.vector.shape == (pipeline.dim,)
        assert np.linalg.norm(obj.vector) == pytest.approx(1.0, abs=1e-5)


def test_same_bytes_give_the_same_record(pipeline: Pipeline) -> None:
    data = jpeg_bytes(scene(seed=3))
    first, second = pipeline.process(data), pipeline.process(data)
    assert first.image_id == second.image_id
    assert [o.object for o in first.objects] == [o.object for o in second.objects]
    for a, b in zip(first.objects, second.objects, strict=True):
        np.testing.assert_array_equal(a.vector, b.vector)


def test_whole_image_comes_first_and_every_box_lies_inside_the_image(pipeline: Pipeline) -> None:
    record = pipeline.process(jpeg_bytes(scene(900, 500, seed=5)))
    whole, *detected = (item.object for item in record.objects)
    assert whole.kind is ObjectKind.IMAGE
    assert whole.box.as_list() == [0, 0, 900, 500]
    assert detected and all(obj.kind is ObjectKind.OBJECT for obj in detected)
    assert len(detected) <= TEST_CONFIG.detector.max_objects
    for obj in detected:
        assert 0 <= obj.box.x1 < obj.box.x2 <= 900
        assert 0 <= obj.box.y1 < obj.box.y2 <= 500
    assert [obj.score for obj in detected] == sorted((obj.score for obj in detected), reverse=True)


def test_an_image_without_detections_is_still_a_record(pipeline: Pipeline) -> None:
    strict = Pipeline(
        replace(TEST_CONFIG, detector=replace(TEST_CONFIG.detector, confidence=1.0)),
        pipeline.detector.__class__(
            replace(TEST_CONFIG.detector, confidence=1.0), TEST_CONFIG.model_cache_dir, pipeline.detector.device
        ),
        pipeline.embedder,
    )
    record = strict.process(jpeg_bytes(scene(seed=7)))
    assert [item.object.kind for item in record.objects] == [ObjectKind.IMAGE]
    assert np.linalg.norm(record.objects[0].vector) == pytest.approx(1.0, abs=1e-5)


def red_square_photo(width: int, height: int, square: tuple[int, int, int, int]) -> Image.Image:
    image = Image.new("RGB", (width, height), (30, 90, 160))
    ImageDraw.Draw(image).rectangle((square[0], square[1], square[2] - 1, square[3] - 1), fill=(255, 0, 0))
    return image


def test_boxes_found_on_the_downscaled_view_are_reported_in_original_pixels(red_pipeline: Pipeline) -> None:
    # 2560x1920 is seen by the models at 1280x960 (scale 2).
    record = red_pipeline.process(jpeg_bytes(red_square_photo(2560, 1920, (400, 600, 1000, 1000))))
    (red,) = (item.object for item in record.detected)
    assert red.label == "red"
    np.testing.assert_allclose(red.box.as_list(), [400, 600, 1000, 1000], atol=4)


def test_exif_rotated_photos_get_boxes_in_upright_coordinates(red_pipeline: Pipeline) -> None:
    # Stored landscape 400x200 with the square at the left; orientation 6 shows it rotated 90° clockwise, so the
    # square ends up at the top of a 200x400 portrait image.
    stored = red_square_photo(400, 200, (20, 50, 120, 150))
    exif = Image.Exif()
    exif[0x0112] = 6
    record = red_pipeline.process(jpeg_bytes(stored, exif=exif))
    assert (record.width, record.height) == (200, 400)
    (red,) = (item.object for item in record.detected)
    np.testing.assert_allclose(red.box.as_list(), [50, 20, 150, 120], atol=3)


def test_model_id_is_stable_and_follows_the_weights(pipeline: Pipeline) -> None:
    again = Pipeline.from_config(TEST_CONFIG)
    assert again.model_id == pipeline.model_id
    random_weights = Pipeline.from_config(RANDOM_CONFIG)
    assert Pipeline.from_config(RANDOM_CONFIG).model_id == random_weights.model_id
    assert Pipeline.from_config(replace(RANDOM_CONFIG, seed=1)).model_id != random_weights.model_id
    assert random_weights.model_id != pipeline.model_id


def test_stream_keeps_order_and_reports_bad_items_in_place(pipeline: Pipeline) -> None:
    def unreadable() -> bytes:
        raise OSError("disk went away")

    sources = [
        ("a", lambda: jpeg_bytes(scene(seed=11))),
        ("b", lambda: b"definitely not an image"),
        ("c", unreadable),
        ("d", lambda: jpeg_bytes(scene(seed=12))),
    ]
    results = list(pipeline.process_stream(sources, batch_size=2))
    assert [key for key, _ in results] == ["a", "b", "c", "d"]
    assert isinstance(results[1][1], ImageRejected) and results[1][1].code is RejectCode.NOT_AN_IMAGE
    assert isinstance(results[2][1], OSError)
    single = pipeline.process(jpeg_bytes(scene(seed=12)))
    streamed = results[3][1]
    assert isinstance(streamed, Processed) and streamed.record is not None
    assert streamed.record.image_id == single.image_id == streamed.decoded.image_id
    np.testing.assert_allclose(streamed.record.objects[0].vector, single.objects[0].vector, atol=1e-5)


def test_stream_spares_the_models_what_keep_refuses(pipeline: Pipeline) -> None:
    wanted, skipped = jpeg_bytes(scene(seed=21)), jpeg_bytes(scene(seed=22))
    skipped_id = pipeline.decode(skipped).image_id
    results = dict(
        pipeline.process_stream(
            [("wanted", lambda: wanted), ("skipped", lambda: skipped)],
            keep=lambda batch: [d.image_id != skipped_id for d in batch],
        )
    )
    assert isinstance(results["wanted"], Processed) and results["wanted"].record is not None
    assert isinstance(results["skipped"], Processed) and results["skipped"].record is None
    assert results["skipped"].data == skipped


@pytest.mark.parametrize(
    ("mode", "augmented_for_gallery", "augmented_for_query"),
    [("none", False, False), ("queries", False, True), ("all", True, True)],
)
def test_augment_mode_decides_which_detections_use_test_time_augmentation(
    pipeline: Pipeline, mode: str, augmented_for_gallery: bool, augmented_for_query: bool
) -> None:
    detector = RedDetector()
    config = replace(TEST_CONFIG, detector=replace(TEST_CONFIG.detector, augment=mode))
    augmenting = Pipeline(config, detector, pipeline.embedder)
    photo = augmenting.decode(jpeg_bytes(red_square_photo(320, 240, (40, 40, 120, 120))))
    augmenting.detect([photo])
    assert detector.augmented_calls == int(augmented_for_gallery)
    augmenting.detect([photo], for_query=True)
    assert detector.augmented_calls == int(augmented_for_gallery) + int(augmented_for_query)


def corners(record: ImageRecord) -> list[tuple[float, float, float, float]]:
    return [(o.object.box.x1, o.object.box.y1, o.object.box.x2, o.object.box.y2) for o in record.objects]


def test_shared_model_batches_answer_each_thread_as_it_would_alone(pipeline: Pipeline) -> None:
    """Six threads process six images at once through shared batches: each gets its own image's record (the same
    boxes and, within float noise, vectors as unshared), and the calls met in fewer model batches than calls."""
    images = [jpeg_bytes(scene(seed=800 + n)) for n in range(6)]
    alone = [pipeline.process(data) for data in images]
    shared = Pipeline(pipeline.config, pipeline.detector, pipeline.embedder)
    shared.share_model_batches(max_wait_s=0.5)
    start = threading.Barrier(len(images))

    def process(data: bytes):  # type: ignore[no-untyped-def]
        start.wait(10)
        return shared.process(data)

    try:
        with ThreadPoolExecutor(len(images)) as pool:
            together = list(pool.map(process, images))
        embed_batches = shared._embed_batcher.batches_run  # type: ignore[union-attr]
    finally:
        shared.close()
    for own, batched in zip(alone, together, strict=True):
        assert batched.image_id == own.image_id
        assert [o.object.label for o in batched.objects] == [o.object.label for o in own.objects]
        np.testing.assert_allclose(corners(batched), corners(own), atol=0.01)
        np.testing.assert_allclose(np.stack([o.vector for o in batched.objects]),
                                   np.stack([o.vector for o in own.objects]), atol=1e-4)  # fmt: skip
    assert embed_batches < len(images)


def test_the_onnxruntime_detector_finds_the_boxes_pytorch_finds_and_reuses_its_checked_export(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """Exported once into the model cache under the weights' hash; a tampered file is exported again."""
    config = replace(
        TEST_CONFIG, model_cache_dir=tmp_path, detector=replace(TEST_CONFIG.detector, runtime="onnxruntime")
    )
    exported = Pipeline.from_config(config)
    exported.load()
    assert exported.model_id == pipeline.model_id  # the same boxes: the same model id
    images = [pipeline.decode(jpeg_bytes(scene(seed=820 + n))).model_view().image for n in range(4)]
    own_detections = pipeline.detector.predict(images)
    assert sum(len(found.labels) for found in own_detections) > 0  # boxes to compare
    for own, onnx in zip(own_detections, exported.detector.predict(images), strict=True):
        assert onnx.labels == own.labels
        np.testing.assert_allclose(onnx.boxes_xyxy, own.boxes_xyxy, atol=0.05)
        np.testing.assert_allclose(onnx.scores, own.scores, atol=1e-4)
    (onnx_file,) = (tmp_path / "exports").glob("*.onnx")
    first_export = onnx_file.stat().st_mtime_ns
    reloaded = Pipeline.from_config(config)
    reloaded.load()
    assert onnx_file.stat().st_mtime_ns == first_export  # reused, its hashes matching
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    Pipeline.from_config(config).load()
    assert (
        json.loads(onnx_file.with_suffix(".json").read_text())["onnx_sha256"]
        == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    )
