"""SceneBench generator: determinism, identity splits, and ground truth that matches the rendered pixels."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch.scenebench import (
    Scene,
    SceneBench,
    SceneConfig,
    generate,
    ground_truth,
    identity_codepoints,
    mask_box,
    split_identities,
    train_only_codepoints,
)

# Small scenes keep the suite fast; the rules under test do not depend on size.
SMALL = SceneConfig(width=200, height=150, min_glyph=24, max_glyph=90, query_size=96)
N_SCENES = 12


@pytest.fixture(scope="module")
def bench() -> SceneBench:
    return generate(seed=7, n_scenes=N_SCENES, n_object_queries=6, n_scene_queries=3, config=SMALL)


def _all_scenes(bench: SceneBench) -> tuple[Scene, ...]:
    return (*bench.train_scenes, *bench.test_scenes)


def _label_map(scene: Scene) -> np.ndarray:
    """Re-render the scene with instance i as the flat value i + 1 on a 0 background, in drawing order."""
    labels = Image.new("L", scene.image.size, 0)
    for index, placement in enumerate(scene.composition.placements):
        labels.paste(index + 1, (placement.x, placement.y), placement.glyph.getchannel("A"))
    return np.asarray(labels)


def test_same_seed_gives_byte_identical_scenes_and_ground_truth(bench: SceneBench, tmp_path: Path) -> None:
    again = generate(seed=7, n_scenes=N_SCENES, n_object_queries=6, n_scene_queries=3, config=SMALL)
    assert [s.jpeg_bytes for s in _all_scenes(again)] == [s.jpeg_bytes for s in _all_scenes(bench)]
    assert [q.jpeg_bytes for q in again.queries] == [q.jpeg_bytes for q in bench.queries]
    assert ground_truth(again) == ground_truth(bench)
    first, second = bench.write(tmp_path / "a"), again.write(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jpg"))
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_scene_does_not_depend_on_how_many_scenes_are_generated(bench: SceneBench) -> None:
    fewer = generate(seed=7, n_scenes=3, split="train", config=SMALL)
    assert [s.jpeg_bytes for s in fewer.train_scenes] == [s.jpeg_bytes for s in bench.train_scenes[:3]]
    assert fewer.test_scenes == ()


def test_different_seed_gives_different_scenes(bench: SceneBench) -> None:
    other = generate(seed=8, n_scenes=N_SCENES, config=SMALL)
    assert {s.jpeg_bytes for s in _all_scenes(other)}.isdisjoint({s.jpeg_bytes for s in _all_scenes(bench)})
    assert ground_truth(other)["scenes"] != ground_truth(bench)["scenes"]


def test_identity_splits_are_disjoint_and_scenes_use_only_their_split(bench: SceneBench) -> None:
    train, test = set(bench.identities["train"]), set(bench.identities["test"])
    assert train.isdisjoint(test)
    split = split_identities(identity_codepoints(), SMALL.split_seed, SMALL.train_fraction)
    assert len(split["train"]) == round(0.7 * len(identity_codepoints()))
    assert test == set(split["test"])
    assert train == set(split["train"]) | set(train_only_codepoints())
    for scene in _all_scenes(bench):
        assert {inst.identity for inst in scene.instances} <= set(bench.identities[scene.split])
    for query in bench.queries:
        assert query.identity in bench.identities[query.split]


def test_there_are_about_two_hundred_split_identities_and_a_thousand_more_for_training() -> None:
    assert 180 <= len(identity_codepoints()) <= 260
    assert len(train_only_codepoints()) >= 900
    assert set(train_only_codepoints()).isdisjoint(identity_codepoints())


def test_train_only_identities_leave_the_test_split_unchanged() -> None:
    with_extra = generate(seed=3, n_scenes=2, split="test", n_object_queries=2, config=SMALL)
    without = generate(
        seed=3, n_scenes=2, split="test", n_object_queries=2, config=replace(SMALL, train_only_identities=False)
    )
    assert with_extra.identities["test"] == without.identities["test"]
    truth, truth_without = ground_truth(with_extra), ground_truth(without)
    assert truth["identities"]["test"] == truth_without["identities"]["test"]
    assert truth["scenes"] == truth_without["scenes"] and truth["queries"] == truth_without["queries"]
    assert [s.jpeg_bytes for s in with_extra.test_scenes] == [s.jpeg_bytes for s in without.test_scenes]


def test_every_scene_has_one_to_six_instances(bench: SceneBench) -> None:
    counts = [len(scene.instances) for scene in _all_scenes(bench)]
    assert all(1 <= count <= 6 for count in counts)
    assert len(set(counts)) > 1


def test_boxes_are_the_tight_boxes_of_visible_pixels(bench: SceneBench) -> None:
    for scene in _all_scenes(bench):
        labels = _label_map(scene)
        for index, (instance, placement) in enumerate(zip(scene.instances, scene.composition.placements, strict=True)):
            visible = labels == index + 1
            assert instance.identity == placement.identity
            assert instance.box == mask_box(visible), scene.scene_id
            assert visible.sum() >= 0.5 * placement.pixel_count, scene.scene_id


def test_rendered_pixels_belong_to_the_instance_that_owns_them(bench: SceneBench) -> None:
    for scene in _all_scenes(bench):
        composed = np.asarray(scene.composition.image)
        for index, placement in enumerate(scene.composition.placements):
            visible = scene.composition.visible_mask(index)
            glyph_rgb = np.zeros_like(composed)
            region = (
                slice(placement.y, placement.y + placement.glyph.height),
                slice(placement.x, placement.x + placement.glyph.width),
            )
            glyph_rgb[region] = np.asarray(placement.glyph.convert("RGB"))
            assert np.array_equal(composed[visible], glyph_rgb[visible]), scene.scene_id


def test_boxes_lie_inside_the_image(bench: SceneBench) -> None:
    for scene in _all_scenes(bench):
        assert scene.image.size == (SMALL.width, SMALL.height)
        for instance in scene.instances:
            x1, y1, x2, y2 = instance.box
            assert 0 <= x1 < x2 <= SMALL.width and 0 <= y1 < y2 <= SMALL.height


def test_queries_have_relevant_scenes_that_contain_their_identity(bench: SceneBench) -> None:
    kinds = {(query.split, query.kind) for query in bench.queries}
    assert kinds == {(split, kind) for split in ("train", "test") for kind in ("object", "scene")}
    for query in bench.queries:
        gallery = {scene.scene_id: scene for scene in bench.scenes(query.split)}
        expected = {sid for sid, s in gallery.items() if query.identity in {i.identity for i in s.instances}}
        assert query.relevant_scene_ids and set(query.relevant_scene_ids) == expected
        if query.kind == "object":
            assert query.image.size == (SMALL.query_size, SMALL.query_size)
            assert [p.identity for p in query.composition.placements] == [query.identity]
        else:
            assert query.composition.placements[0].identity == query.identity
            assert query.query_id not in gallery


def test_write_saves_jpegs_and_ground_truth(bench: SceneBench, tmp_path: Path) -> None:
    truth = json.loads(bench.write(tmp_path).read_text(encoding="utf-8"))
    assert len(truth["scenes"]) == 2 * N_SCENES and len(truth["queries"]) == len(bench.queries)
    for record, scene in zip(truth["scenes"], _all_scenes(bench), strict=True):
        assert (tmp_path / record["file"]).read_bytes() == scene.jpeg_bytes
        assert [tuple(i["box_xyxy"]) for i in record["instances"]] == [i.box for i in scene.instances]
    with Image.open(tmp_path / truth["queries"][0]["file"]) as image:
        assert image.format == "JPEG"


def test_default_config_makes_640_by_480_scenes() -> None:
    scene = generate(seed=1, n_scenes=1, split="test").test_scenes[0]
    assert scene.image.size == (640, 480)
    assert 1 <= len(scene.instances) <= 6
    assert all(max(p.glyph.size) >= 40 for p in scene.composition.placements)
