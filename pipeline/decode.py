"""Bytes in, upright full-resolution RGB out: the reader's decode and validation step."""

import hashlib
import struct
from dataclasses import dataclass
from io import BytesIO

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from pipeline.errors import ImageRejected, RejectCode

# Phones save HEIC: pillow-heif adds Pillow's "HEIF" opener (libheif applies the file's rotation and resets its
# EXIF orientation to 1, so nothing turns twice). AVIF is Pillow's own (11.3 and later).
pillow_heif.register_heif_opener()

# Pillow's opener names. MPO (phones' multi-picture JPEG) has no opener of its own: the JPEG one returns it,
# and naming "MPO" here makes Image.open raise KeyError.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")
# Browsers and clients know MPO's first picture as a plain JPEG; "image/mpo" would not display.
_CONTENT_TYPE_OVERRIDES = {"MPO": "image/jpeg"}
# ISO base media brands of HEVC-coded HEIF, which is served as image/heic (other HEIF as image/heif).
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")
# What Pillow's openers and decoders raise on broken data; the last four are what Image.open itself skips on.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)
_WHITE_RGBA = (255, 255, 255, 255)


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds an upload must fit in before and after decoding."""

    max_bytes: int = 30 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 32
    model_max_side: int = 1280


@dataclass(frozen=True)
class ModelView:
    """A copy sized for the models; model-pixel boxes times `scale` are original-pixel boxes."""

    image: Image.Image
    scale: float


@dataclass(frozen=True)
class DecodedImage:
    """An accepted upload: RGB, EXIF orientation applied, full resolution."""

    image_id: str
    image: Image.Image
    width: int
    height: int
    content_type: str
    byte_size: int
    model_max_side: int

    def model_view(self) -> ModelView:
        """The image with its long side capped at `model_max_side` (never upscaled)."""
        long_side = max(self.width, self.height)
        if long_side <= self.model_max_side:
            return ModelView(image=self.image, scale=1.0)
        scale = long_side / self.model_max_side
        size = (max(1, round(self.width / scale)), max(1, round(self.height / scale)))
        # reducing_gap first shrinks by a whole factor with a box filter: much faster on 40 MP photos, same look.
        return ModelView(image=self.image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0), scale=scale)


def decode_image(data: bytes, limits: DecodeLimits = DecodeLimits()) -> DecodedImage:
    """Decode and validate uploaded bytes, or raise ImageRejected saying why not."""
    if not data:
        raise ImageRejected(RejectCode.EMPTY, "empty input")
    if len(data) > limits.max_bytes:
        raise ImageRejected(RejectCode.TOO_MANY_BYTES, f"{len(data)} bytes, more than the {limits.max_bytes} allowed")
    try:
        opened = _open(data)
        _check_header_size(opened, limits)
        upright = _load_upright(opened)
    except Image.DecompressionBombError as error:
        raise ImageRejected(RejectCode.TOO_MANY_PIXELS, str(error)) from error
    return DecodedImage(
        image_id=hashlib.sha256(data).hexdigest(),
        image=_to_rgb(upright),
        width=upright.width,
        height=upright.height,
        content_type=_content_type(opened.format, data),
        byte_size=len(data),
        model_max_side=limits.model_max_side,
    )


def _open(data: bytes) -> ImageFile.ImageFile:
    """Parse the header with an accepted format's opener, or raise why none fits."""
    try:
        return Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise _refusal_for_unopened(data) from None
    except _DECODE_ERRORS as error:
        raise ImageRejected(RejectCode.CORRUPT, f"unreadable image header: {error}") from error


def _refusal_for_unopened(data: bytes) -> ImageRejected:
    """Tell a damaged accepted image from another format and from something that is no image at all."""
    if _has_accepted_signature(data):
        return ImageRejected(RejectCode.CORRUPT, "unreadable image header")
    other_format = _other_format(data)
    if other_format:
        accepted = ", ".join(ACCEPTED_FORMATS)
        return ImageRejected(RejectCode.UNSUPPORTED_FORMAT, f"{other_format} images are not accepted (use {accepted})")
    return ImageRejected(RejectCode.NOT_AN_IMAGE, "not a recognisable image")


def _has_accepted_signature(data: bytes) -> bool:
    """Whether the bytes start like an accepted format, though its opener gave up on them."""
    # Openers give up quietly on a damaged header; the signature is what says it was meant to be one of ours.
    return looks_like_an_image(data[:SIGNATURE_BYTES])


SIGNATURE_BYTES = 16


def looks_like_an_image(head: bytes) -> bool:
    """Whether a file's first `SIGNATURE_BYTES` bytes are the signature of an accepted format (by content, not
    by its name): what a folder walk reads before it reads a whole file."""
    Image.init()  # Pillow registers most openers only on first use
    openers = (Image.OPEN[name] for name in ACCEPTED_FORMATS)
    return any(accept and accept(head[:SIGNATURE_BYTES]) for _, accept in openers)


def _other_format(data: bytes) -> str | None:
    """The format name if any of Pillow's openers recognises the bytes."""
    try:
        with Image.open(BytesIO(data)) as other:
            return other.format
    except _DECODE_ERRORS:
        return None


def _content_type(format_name: str | None, data: bytes) -> str:
    """The MIME type to serve the original bytes with."""
    name = format_name or ""
    if name == "HEIF" and data[8:12] in _HEIC_BRANDS:
        return "image/heic"
    return _CONTENT_TYPE_OVERRIDES.get(name) or Image.MIME.get(name, "application/octet-stream")


def _check_header_size(opened: Image.Image, limits: DecodeLimits) -> None:
    """Refuse by the header's size, before spending memory on pixels."""
    width, height = opened.size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            RejectCode.TOO_MANY_PIXELS, f"{width}x{height} is more than the {limits.max_pixels} pixels allowed"
        )
    # EXIF orientation only swaps the sides, so the shorter side is already known here.
    if min(width, height) < limits.min_side:
        raise ImageRejected(RejectCode.TOO_SMALL, f"{width}x{height} has a side under {limits.min_side} pixels")


def _load_upright(opened: ImageFile.ImageFile) -> Image.Image:
    """Decode the first frame's pixels and turn them as the EXIF orientation says."""
    try:
        opened.load()
        return ImageOps.exif_transpose(opened)
    except _DECODE_ERRORS as error:
        raise ImageRejected(RejectCode.CORRUPT, f"truncated or corrupt image data: {error}") from error


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB with any transparency flattened onto white."""
    try:
        return _convert_to_rgb(image)
    except ValueError as error:  # Pillow has no conversion from a few rare modes, such as premultiplied "La"
        raise ImageRejected(RejectCode.UNSUPPORTED_FORMAT, f"colour mode {image.mode} is not accepted") from error


def _convert_to_rgb(image: Image.Image) -> Image.Image:
    """Pick the conversion the mode needs; Pillow's plain convert is wrong for several."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;"):
        return _high_depth_grey_to_rgb(image)
    if image.has_transparency_data:
        # Models and thumbnails see transparent areas as white paper, not Pillow's default black.
        return Image.alpha_composite(Image.new("RGBA", image.size, _WHITE_RGBA), image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def _high_depth_grey_to_rgb(image: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit or float grey into 0..255; Pillow's convert clips such values to white."""
    # In place on one float32 copy: a 40 MP image is 160 MB at this depth.
    levels = np.nan_to_num(np.array(image, dtype=np.float32), copy=False)
    low, high = _grey_range(image.mode, levels)
    levels -= low
    levels *= 255.0 / max(high - low, 1e-12)
    grey = np.clip(levels, 0, 255, out=levels).round(out=levels).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def _grey_range(mode: str, levels: np.ndarray) -> tuple[float, float]:
    """The range that maps to black..white: the type's nominal range when values fit it, else their own span."""
    if mode.startswith("I;16"):
        return 0.0, 65535.0
    low, high = float(levels.min()), float(levels.max())
    # 16-bit data often arrives in 32-bit "I" images, and float images usually hold 0..1.
    nominal_high = 65535.0 if mode == "I" else 1.0
    if low >= 0 and high <= nominal_high:
        return 0.0, nominal_high
    return low, high
