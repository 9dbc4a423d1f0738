"""Scene backgrounds: procedural textures and random crops of the photos that ship in scikit-image."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from PIL import Image

# Photos bundled in the scikit-image wheel (no download); grayscale ones are stacked to RGB.
PHOTO_NAMES: tuple[str, ...] = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
)


@lru_cache(maxsize=len(PHOTO_NAMES))
def load_photo(name: str) -> Image.Image:
    """One scikit-image sample photo as RGB."""
    from skimage import data  # imported lazily: only photo backgrounds need scikit-image

    pixels = np.asarray(getattr(data, name)())
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return Image.fromarray(pixels[..., :3].astype(np.uint8), "RGB")


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=3).astype(np.float32)


def linear_gradient(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Two random colours blended along a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    start, end = _random_colour(rng), _random_colour(rng)
    pixels = start + ramp[..., None] * (end - start)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def value_noise(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Smooth coloured noise: a coarse random grid upsampled bicubically, two octaves."""
    layers = []
    for cells in (int(rng.integers(3, 8)), int(rng.integers(12, 30))):
        grid = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
        layers.append(np.asarray(Image.fromarray(grid, "RGB").resize((width, height), Image.Resampling.BICUBIC)))
    pixels = 0.7 * layers[0].astype(np.float32) + 0.3 * layers[1].astype(np.float32)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def stripes(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Two-colour stripes of random period and orientation."""
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(8, 64)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = (xs * np.cos(angle) + ys * np.sin(angle)) / period
    on = (np.floor(phase) % 2 == 0)[..., None]
    pixels = np.where(on, _random_colour(rng), _random_colour(rng))
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def checker(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Two-colour checkerboard of random cell size."""
    cell = int(rng.integers(8, 64))
    ys, xs = np.mgrid[0:height, 0:width]
    on = (((xs // cell) + (ys // cell)) % 2 == 0)[..., None]
    pixels = np.where(on, _random_colour(rng), _random_colour(rng))
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def photo_crop(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A random crop of a random bundled photo, resized to the requested size."""
    photo = load_photo(PHOTO_NAMES[int(rng.integers(len(PHOTO_NAMES)))])
    scale = rng.uniform(0.4, 1.0)
    aspect = width / height
    crop_w = max(8, min(photo.width, round(photo.width * scale)))
    crop_h = max(8, min(photo.height, round(crop_w / aspect)))
    crop_w = max(8, min(crop_w, round(crop_h * aspect)))
    left = int(rng.integers(0, photo.width - crop_w + 1))
    top = int(rng.integers(0, photo.height - crop_h + 1))
    crop = photo.crop((left, top, left + crop_w, top + crop_h))
    return crop.resize((width, height), Image.Resampling.BILINEAR)


BACKGROUND_KINDS: dict[str, Callable[[np.random.Generator, int, int], Image.Image]] = {
    "gradient": linear_gradient,
    "noise": value_noise,
    "stripes": stripes,
    "checker": checker,
    "photo": photo_crop,
}


def random_background(rng: np.random.Generator, width: int, height: int, photo_share: float = 0.4) -> Image.Image:
    """A background of a random kind; photo_share of them are photo crops."""
    if rng.random() < photo_share:
        return photo_crop(rng, width, height)
    procedural = [kind for kind in BACKGROUND_KINDS if kind != "photo"]
    return BACKGROUND_KINDS[procedural[int(rng.integers(len(procedural)))]](rng, width, height)
