"""JPEG thumbnails for result grids."""

from __future__ import annotations

import io

from PIL import Image

THUMBNAIL_MAX_SIDE = 320
THUMBNAIL_CONTENT_TYPE = "image/jpeg"


def thumbnail_pixels(image: Image.Image, max_side: int = THUMBNAIL_MAX_SIDE) -> Image.Image:
    """The image with its long side at most `max_side`, never upscaled."""
    thumbnail = image.copy()
    thumbnail.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return thumbnail


def thumbnail_jpeg(pixels: Image.Image) -> bytes:
    """`thumbnail_pixels`' result as the JPEG stored beside the original."""
    buffer = io.BytesIO()
    pixels.convert("RGB").save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def make_thumbnail(image: Image.Image, max_side: int = THUMBNAIL_MAX_SIDE) -> bytes:
    """A JPEG whose long side is at most `max_side`, never upscaled."""
    return thumbnail_jpeg(thumbnail_pixels(image, max_side))
