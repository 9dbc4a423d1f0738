"""decode_image: what it accepts, how it normalises pixels, and the exact code for each refusal."""

import hashlib
import random
import struct
import zlib
from collections.abc import Callable
from io import BytesIO
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipeline.decode import DecodeLimits, decode_image
from pipeline.errors import ImageRejected, RejectCode

RED, GREEN, BLUE, WHITE, BLACK, CYAN = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (0, 255, 255)
EXIF_ORIENTATION_TAG = 0x0112
DEFAULT_LIMITS = DecodeLimits()


def encode(image: Image.Image, format_name: str, **save_options: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format_name, **save_options)
    return buffer.getvalue()


def solid(colour: int | tuple[int, ...], size: tuple[int, int] = (48, 40), mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def noise(size: tuple[int, int] = (256, 256)) -> Image.Image:
    """Incompressible pixels, so the compressed data is most of the file and a cut lands in it."""
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header and holds no pixel data: enough for Pillow's size checks."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def rejection(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> RejectCode:
    with pytest.raises(ImageRejected) as caught:
        decode_image(data, limits)
    assert str(caught.value) == caught.value.message
    return caught.value.code


def assert_colour(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 0) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), f"{actual} != {expected}"


# Refusals


def test_empty_input_is_refused() -> None:
    assert rejection(b"") == RejectCode.EMPTY


@pytest.mark.parametrize(
    "data",
    [random.Random(0).randbytes(4096), b"name,size\nholiday.jpg,12\n" * 20],
    ids=["random-bytes", "csv-text"],
)
def test_bytes_that_are_no_image_are_refused(data: bytes) -> None:
    assert rejection(data) == RejectCode.NOT_AN_IMAGE


@pytest.mark.parametrize("format_name", ["ICO", "PPM", "PCX"])
def test_real_images_in_other_formats_are_refused_as_unsupported(format_name: str) -> None:
    assert rejection(encode(solid(RED), format_name)) == RejectCode.UNSUPPORTED_FORMAT


def first_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "data",
    [
        first_half(encode(noise(), "JPEG", quality=90)),
        encode(noise(), "JPEG")[:20],
        first_half(encode(noise(), "PNG")),
        first_half(encode(noise(), "GIF")),
        first_half(encode(noise(), "TIFF")),
        encode(noise(), "TIFF")[:100],
    ],
    ids=[
        "jpeg-cut-in-half",
        "jpeg-cut-in-header",
        "png-cut-in-half",
        "gif-cut-in-half",
        "tiff-cut-in-half",
        "tiff-cut-in-header",
    ],
)
@pytest.mark.filterwarnings("ignore:Truncated File Read:UserWarning")  # Pillow's TIFF reader says so, then gives up
def test_truncated_images_are_refused_as_corrupt(data: bytes) -> None:
    assert rejection(data) == RejectCode.CORRUPT


def test_too_many_bytes_is_refused_before_parsing() -> None:
    not_an_image = random.Random(1).randbytes(2048)
    assert rejection(not_an_image, DecodeLimits(max_bytes=1024)) == RejectCode.TOO_MANY_BYTES


def test_too_many_pixels_is_refused_from_the_header() -> None:
    assert rejection(encode(solid(RED, (100, 100)), "PNG"), DecodeLimits(max_pixels=5000)) == RejectCode.TOO_MANY_PIXELS


def test_pillows_own_decompression_bomb_guard_is_a_too_many_pixels_refusal() -> None:
    # Our limit is set above Pillow's, so it is Pillow's DecompressionBombError (over twice its limit) that fires.
    bomb = png_header_only(20_000, 20_000)
    assert rejection(bomb, DecodeLimits(max_pixels=10**9)) == RejectCode.TOO_MANY_PIXELS


@pytest.mark.parametrize("size", [(20, 20), (200, 20), (20, 200)])
def test_images_with_a_side_under_the_minimum_are_refused(size: tuple[int, int]) -> None:
    assert rejection(encode(solid(RED, size), "PNG")) == RejectCode.TOO_SMALL


# Accepted formats and colour modes


def animated_gif() -> bytes:
    return encode(solid(RED), "GIF", save_all=True, append_images=[solid(BLUE)], duration=100, loop=0)


def mpo() -> bytes:
    return encode(solid(RED), "MPO", save_all=True, append_images=[solid(BLUE)])


@pytest.mark.parametrize(
    ("make_data", "content_type", "colour", "tolerance"),
    [
        (lambda: encode(solid(GREEN), "JPEG", quality=95), "image/jpeg", GREEN, 4),
        (mpo, "image/jpeg", RED, 4),
        (lambda: encode(solid(BLUE), "BMP"), "image/bmp", BLUE, 0),
        (lambda: encode(solid(GREEN), "WEBP", lossless=True), "image/webp", GREEN, 0),
        (lambda: encode(solid((255, 0, 0, 0), mode="CMYK"), "TIFF"), "image/tiff", CYAN, 0),
        # L*a*b* (53, 80, 67) is sRGB red; Pillow's convert goes through a colour transform, not a relabelling.
        (lambda: encode(solid((136, 208, 195), mode="LAB"), "TIFF"), "image/tiff", RED, 12),
        (animated_gif, "image/gif", RED, 0),
        (lambda: encode(solid(0, mode="1"), "PNG"), "image/png", BLACK, 0),
        (lambda: encode(solid(1, mode="1"), "TIFF"), "image/tiff", WHITE, 0),
        (lambda: encode(solid(GREEN), "HEIF", quality=90), "image/heic", GREEN, 8),
        (lambda: encode(solid(BLUE), "AVIF", quality=90), "image/avif", BLUE, 8),
        (lambda: encode(solid((255, 0, 0, 255), mode="RGBA"), "AVIF", quality=90), "image/avif", RED, 8),
    ],
    ids=["jpeg-rgb", "mpo", "bmp", "webp", "tiff-cmyk", "tiff-lab", "gif-first-frame", "png-bilevel", "tiff-bilevel",
         "heic", "avif", "avif-rgba"],
)  # fmt: skip
def test_accepted_formats_decode_to_rgb(
    make_data: Callable[[], bytes], content_type: str, colour: tuple[int, int, int], tolerance: int
) -> None:
    data = make_data()
    decoded = decode_image(data)
    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == decoded.image.size == (48, 40)
    assert decoded.content_type == content_type
    assert decoded.byte_size == len(data)
    assert_colour(decoded.image.getpixel((10, 10)), colour, tolerance)


def palette_image_with_transparent_index() -> bytes:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, *GREEN])
    image.paste(1, (20, 0, 40, 40))
    return encode(image, "PNG", transparency=0)


@pytest.mark.parametrize(
    ("data", "colour_at_left", "colour_at_right"),
    [
        (encode(Image.new("RGBA", (40, 40), (0, 0, 0, 0)), "PNG"), WHITE, WHITE),
        (encode(Image.new("RGBA", (40, 40), (0, 0, 0, 128)), "PNG"), (127, 127, 127), (127, 127, 127)),
        (encode(Image.new("LA", (40, 40), (0, 0)), "PNG"), WHITE, WHITE),
        (palette_image_with_transparent_index(), WHITE, GREEN),
        (encode(Image.new("L", (40, 40), 10), "PNG", transparency=10), WHITE, WHITE),
    ],
    ids=["rgba-clear", "rgba-half-black", "la-clear", "palette-transparent-index", "grey-transparent-value"],
)
def test_transparency_is_flattened_onto_white(
    data: bytes, colour_at_left: tuple[int, int, int], colour_at_right: tuple[int, int, int]
) -> None:
    decoded = decode_image(data)
    assert decoded.image.mode == "RGB"
    assert_colour(decoded.image.getpixel((5, 5)), colour_at_left, tolerance=1)
    assert_colour(decoded.image.getpixel((35, 5)), colour_at_right, tolerance=1)


def high_depth_grey(levels: tuple[float, float, float], dtype: type, format_name: str) -> bytes:
    """A 40x40 image, black-level in the left column, mid in the middle, white-level in the right column."""
    pixels = np.full((40, 40), levels[1], dtype=dtype)
    pixels[:, 0], pixels[:, -1] = levels[0], levels[2]
    return encode(Image.fromarray(pixels), format_name)


@pytest.mark.parametrize(
    ("data", "mode"),
    [
        (high_depth_grey((0, 32768, 65535), np.uint16, "PNG"), "I;16"),
        (high_depth_grey((0, 32768, 65535), np.uint16, "TIFF"), "I;16"),
        (high_depth_grey((0, 32768, 65535), np.int32, "TIFF"), "I"),
        (high_depth_grey((0.0, 0.5, 1.0), np.float32, "TIFF"), "F"),
    ],
    ids=["png-16-bit", "tiff-16-bit", "tiff-32-bit-int", "tiff-float"],
)
def test_high_bit_depth_grey_is_scaled_not_clipped(data: bytes, mode: str) -> None:
    assert Image.open(BytesIO(data)).mode == mode
    image = decode_image(data).image
    assert image.getpixel((0, 5)) == BLACK
    assert_colour(image.getpixel((20, 5)), (128, 128, 128), tolerance=1)
    assert image.getpixel((39, 5)) == WHITE


@pytest.mark.parametrize(("format_name", "options"), [("JPEG", {"quality": 95}), ("HEIF", {"quality": 90}),
                                                     ("AVIF", {"quality": 90})])  # fmt: skip
def test_exif_orientation_is_applied(format_name: str, options: dict[str, Any]) -> None:
    """Once: libheif turns a HEIC itself and says so, Pillow's openers leave it to the EXIF tag."""
    stored = solid(BLUE, (60, 40))
    stored.paste(RED, (0, 0, 12, 12))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6  # display rotated 90 degrees clockwise
    decoded = decode_image(encode(stored, format_name, exif=exif.tobytes(), **options))
    assert (decoded.width, decoded.height) == decoded.image.size == (40, 60)
    assert_colour(decoded.image.getpixel((34, 5)), RED, tolerance=40)
    assert_colour(decoded.image.getpixel((5, 5)), BLUE, tolerance=40)


def test_heic_and_avif_files_stay_small_and_keep_their_identity() -> None:
    """Generated here, not committed; the id is the sha256 of the original bytes as for every format."""
    for format_name in ("HEIF", "AVIF"):
        data = encode(noise((64, 48)), format_name, quality=60)
        assert len(data) < 8 * 1024
        assert decode_image(data).image_id == hashlib.sha256(data).hexdigest()


def test_a_cut_heic_is_corrupt_not_a_crash() -> None:
    data = encode(noise((128, 96)), "HEIF", quality=80)
    assert rejection(data[: len(data) // 2]) is RejectCode.CORRUPT


# Identity and the model's view


def test_image_id_is_the_sha256_of_the_original_bytes() -> None:
    data = encode(solid(RED), "PNG")
    assert decode_image(data).image_id == hashlib.sha256(data).hexdigest() == decode_image(data).image_id
    assert decode_image(encode(solid(BLUE), "PNG")).image_id != decode_image(data).image_id


def test_model_view_caps_the_long_side_and_reports_the_scale() -> None:
    decoded = decode_image(encode(solid(RED, (4000, 3000)), "PNG"), DecodeLimits(model_max_side=1280))
    view = decoded.model_view()
    assert view.image.size == (1280, 960)
    assert view.scale == 3.125
    assert decoded.image.size == (4000, 3000)


def test_model_view_never_upscales() -> None:
    decoded = decode_image(encode(solid(RED, (200, 100)), "PNG"))
    view = decoded.model_view()
    assert view.image.size == (200, 100)
    assert view.scale == 1.0
