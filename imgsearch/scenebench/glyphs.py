"""Emoji identities: font loading, the identity list, glyph rendering and per-instance augmentation."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

# Debian's fonts-noto-color-emoji; a CBDT bitmap font whose only strike is 109 px.
FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
FONT_SIZE = 109
# Alpha at or above this is "the object"; glyphs are binarised so ground-truth masks are exact.
ALPHA_THRESHOLD = 128

# Single-codepoint emoji from blocks with visually distinct pictures (animals, food, vehicles, objects).
_IDENTITY_RANGES: tuple[tuple[int, int], ...] = (
    (0x1F400, 0x1F43C),  # animals
    (0x1F980, 0x1F997),  # more animals
    (0x1F345, 0x1F37F),  # food and drink
    (0x1F950, 0x1F96B),  # more food
    (0x1F680, 0x1F6A4),  # vehicles
    (0x1F380, 0x1F393),  # celebration objects
)
# Near-duplicates of another identity (train variants, oncoming vehicles, tiny variants).
_EXCLUDED = frozenset({0x1F683, 0x1F685, 0x1F687, 0x1F688, 0x1F68A, 0x1F68B, 0x1F68D, 0x1F694, 0x1F696, 0x1F698})
# The rest of the font's single-codepoint pictures (symbols, faces, people, places, objects). They only ever join
# the train split: the starter models need many more identities to learn from than the 153 split off above, and
# keeping them out of the test split keeps its scenes and queries exactly those of the identity split above.
_TRAIN_ONLY_RANGES: tuple[tuple[int, int], ...] = (
    (0x1F300, 0x1F5FF),  # misc symbols and pictographs
    (0x1F600, 0x1F64F),  # faces and gestures
    (0x1F680, 0x1F6FF),  # transport and map symbols
    (0x1F900, 0x1F9FF),  # supplemental symbols and pictographs
    (0x1FA70, 0x1FAFF),  # symbols and pictographs extended-A
    (0x2600, 0x27BF),  # misc symbols, dingbats
)
# Skin-tone modifiers render as plain colour swatches, not pictures.
_TRAIN_ONLY_EXCLUDED = frozenset(range(0x1F3FB, 0x1F400))


class FontMissing(RuntimeError):
    """The emoji font is not installed (apt-get install fonts-noto-color-emoji)."""


@lru_cache(maxsize=4)
def load_font(path: Path = FONT_PATH) -> ImageFont.FreeTypeFont:
    """Load the colour emoji font at its only bitmap size."""
    if not path.is_file():
        raise FontMissing(f"{path} not found; install the Debian package fonts-noto-color-emoji")
    return ImageFont.truetype(str(path), FONT_SIZE)


@lru_cache(maxsize=2048)
def render_glyph(codepoint: int, path: Path = FONT_PATH) -> Image.Image:
    """Render one emoji as RGBA, cropped to its alpha bounding box (empty 1x1 image if the font lacks it)."""
    canvas = Image.new("RGBA", (FONT_SIZE * 2, FONT_SIZE * 2), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text(
        (FONT_SIZE // 4, FONT_SIZE // 4), chr(codepoint), font=load_font(path), embedded_color=True
    )
    bbox = canvas.getchannel("A").getbbox()
    return canvas.crop(bbox) if bbox else Image.new("RGBA", (1, 1), (0, 0, 0, 0))


@lru_cache(maxsize=4)
def identity_codepoints(path: Path = FONT_PATH) -> tuple[int, ...]:
    """All identities: candidate code points that the font renders as a non-trivial glyph, sorted."""
    candidates = (cp for start, end in _IDENTITY_RANGES for cp in range(start, end + 1) if cp not in _EXCLUDED)
    return tuple(sorted(cp for cp in candidates if min(render_glyph(cp, path).size) >= 16))


@lru_cache(maxsize=4)
def train_only_codepoints(path: Path = FONT_PATH) -> tuple[int, ...]:
    """Extra train identities: renderable code points of the wider emoji blocks that are not split identities."""
    split = set(identity_codepoints(path)) | _EXCLUDED | _TRAIN_ONLY_EXCLUDED
    candidates = (cp for start, end in _TRAIN_ONLY_RANGES for cp in range(start, end + 1) if cp not in split)
    return tuple(sorted(cp for cp in candidates if min(render_glyph(cp, path).size) >= 16))


def identity_name(codepoint: int) -> str:
    """Stable printable name of an identity, e.g. 'U+1F436'."""
    return f"U+{codepoint:04X}"


@dataclass(frozen=True)
class GlyphStyle:
    """How one instance of an identity is drawn."""

    size: int  # longest side before rotation, in pixels
    angle: float  # degrees, counter-clockwise
    flip: bool
    brightness: float
    contrast: float
    saturation: float
    blur_radius: float  # 0 means no blur


def sample_style(rng: np.random.Generator, min_size: int, max_size: int, max_angle: float = 30.0) -> GlyphStyle:
    """Draw a random style; sizes are inclusive bounds."""
    return GlyphStyle(
        size=int(rng.integers(min_size, max(min_size, max_size) + 1)),
        angle=float(rng.uniform(-max_angle, max_angle)),
        flip=bool(rng.random() < 0.5),
        brightness=float(rng.uniform(0.7, 1.3)),
        contrast=float(rng.uniform(0.7, 1.3)),
        saturation=float(rng.uniform(0.6, 1.4)),
        blur_radius=float(rng.uniform(0.5, 2.0)) if rng.random() < 0.3 else 0.0,
    )


def augment_glyph(glyph: Image.Image, style: GlyphStyle) -> Image.Image:
    """Apply a style to an RGBA glyph; the result has binary alpha and is cropped to it."""
    scale = style.size / max(glyph.size)
    size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
    image = glyph.resize(size, Image.Resampling.LANCZOS)  # Pillow resamples RGBA premultiplied
    if style.flip:
        image = ImageOps.mirror(image)
    image = image.rotate(style.angle, resample=Image.Resampling.BICUBIC, expand=True)
    if style.blur_radius > 0:
        image = image.convert("RGBa").filter(ImageFilter.GaussianBlur(style.blur_radius)).convert("RGBA")
    rgb = ImageEnhance.Brightness(image.convert("RGB")).enhance(style.brightness)
    rgb = ImageEnhance.Contrast(rgb).enhance(style.contrast)
    rgb = ImageEnhance.Color(rgb).enhance(style.saturation)
    alpha = image.getchannel("A").point(lambda value: 255 if value >= ALPHA_THRESHOLD else 0)
    rgb.putalpha(alpha)
    bbox = alpha.getbbox()
    return rgb.crop(bbox) if bbox else rgb
