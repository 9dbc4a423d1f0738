"""Placing glyph instances on a background with an occlusion budget, and their visible ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

BACKGROUND_OWNER = -1


@dataclass(frozen=True)
class Placement:
    """One instance as drawn: its identity, its augmented RGBA glyph (binary alpha) and top-left corner."""

    identity: int
    glyph: Image.Image
    x: int
    y: int

    @property
    def mask(self) -> np.ndarray:
        """The glyph's own pixels, as a boolean array of the glyph's size."""
        return np.asarray(self.glyph.getchannel("A")) > 0

    @property
    def pixel_count(self) -> int:
        """How many pixels the instance has before occlusion."""
        return int(self.mask.sum())


@dataclass(frozen=True)
class Composition:
    """A composed scene before compression: the RGB image, the placements in drawing order, and who owns each pixel."""

    image: Image.Image
    placements: tuple[Placement, ...]
    owner_map: np.ndarray  # int16 (height, width): index into placements, or BACKGROUND_OWNER

    def visible_mask(self, index: int) -> np.ndarray:
        """Pixels of the scene where instance `index` is the topmost object."""
        return self.owner_map == index

    def visible_fraction(self, index: int) -> float:
        """Share of the instance's own pixels that later instances leave uncovered."""
        return float(self.visible_mask(index).sum()) / self.placements[index].pixel_count

    def visible_box(self, index: int) -> tuple[int, int, int, int]:
        """Tight box (x1, y1, x2, y2), end exclusive, of the instance's visible pixels."""
        return mask_box(self.visible_mask(index))


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Tight bounding box (x1, y1, x2, y2), end exclusive, of a non-empty boolean mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("empty mask has no bounding box")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _stamp(owner_map: np.ndarray, placement: Placement, index: int) -> np.ndarray:
    stamped = owner_map.copy()
    height, width = placement.glyph.height, placement.glyph.width
    region = stamped[placement.y : placement.y + height, placement.x : placement.x + width]
    region[placement.mask] = index
    return stamped


def _occlusion_ok(owner_map: np.ndarray, placements: list[Placement], min_visible: float) -> bool:
    visible_counts = np.bincount(owner_map[owner_map >= 0].ravel(), minlength=len(placements))
    return all(visible_counts[i] >= min_visible * p.pixel_count for i, p in enumerate(placements))


def _random_placement(
    rng: np.random.Generator, identity: int, glyph: Image.Image, width: int, height: int
) -> Placement:
    x = int(rng.integers(0, max(0, width - glyph.width) + 1))
    y = int(rng.integers(0, max(0, height - glyph.height) + 1))
    return Placement(identity, glyph, x, y)


def draw_placements(background: Image.Image, placements: tuple[Placement, ...]) -> Image.Image:
    """Paste the glyphs in order; binary alpha makes each pixel exactly one glyph's or the background's."""
    image = background.convert("RGB")
    for placement in placements:
        image.paste(placement.glyph.convert("RGB"), (placement.x, placement.y), placement.glyph.getchannel("A"))
    return image


def compose_scene(
    rng: np.random.Generator,
    background: Image.Image,
    glyphs: list[tuple[int, Image.Image]],
    min_visible: float = 0.5,
    max_tries: int = 30,
) -> Composition:
    """Place (identity, glyph) pairs in order at random positions, keeping every instance >= min_visible visible.

    A glyph whose every tried position hides too much of an earlier one is dropped, so the first always stays.
    Glyphs must fit inside the background.
    """
    width, height = background.size
    owner_map = np.full((height, width), BACKGROUND_OWNER, dtype=np.int16)
    placements: list[Placement] = []
    for identity, glyph in glyphs:
        if glyph.width > width or glyph.height > height:
            raise ValueError(f"glyph {glyph.size} does not fit a {background.size} scene")
        for _ in range(max_tries):
            candidate = _random_placement(rng, identity, glyph, width, height)
            stamped = _stamp(owner_map, candidate, len(placements))
            if _occlusion_ok(stamped, [*placements, candidate], min_visible):
                owner_map = stamped
                placements.append(candidate)
                break
    return Composition(draw_placements(background, tuple(placements)), tuple(placements), owner_map)
