"""A PNG decoded strip by strip, reduced as it is decoded (``pixelmill.transforms._png``)."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image, ImageChops

from pixelmill.catalog import registry
from pixelmill.errors import UnsupportedImage
from pixelmill.transforms import _png as png
from pixelmill.transforms._photo import reduce_strips, working_mode
from pixelmill.transforms.base import Limits
from tests.imagegen import encode, quadrants


def noisy(mode: str, width: int = 90, height: int = 70) -> Image.Image:
    """A picture whose rows the PNG encoder filters in every way (noise on the quadrants), in ``mode``."""
    rnd = random.Random(7)
    noise = Image.frombytes("RGB", (width, height), bytes(rnd.randrange(256) for _ in range(width * height * 3)))
    picture = Image.blend(quadrants(width, height), noise, 0.3)
    alpha = Image.linear_gradient("L").resize((width, height))
    if mode in ("RGBA", "LA"):
        return Image.merge("RGBA", (*picture.split(), alpha)).convert(mode)
    if mode == "P":
        return picture.quantize(64)  # with a transparent index below
    if mode == "I;16":
        return picture.convert("L").convert("I").point(lambda value: value * 257).convert("I;16")
    return picture.convert(mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "P", "LA", "RGBA", "I;16"])
def test_the_strips_reduce_to_the_pixels_of_the_whole_image(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a PNG of a few rows per strip (each strip starts from the previous one's last row)
    monkeypatch.setattr(png, "_STRIP_BYTES", 500)
    source = encode(noisy(mode), "PNG", **({"transparency": 3} if mode == "P" else {}))
    opened = Image.open(io.BytesIO(source))
    assert png.streams(source, opened)
    # When it is decoded strip by strip and reduced by 3 as it comes
    strips = list(png.strips(source, opened, 3))
    ours = reduce_strips((working_mode(strip) for strip in strips), opened.size, (3, 3))
    # Then the pixels are those of the whole image decoded, brought to a working mode and reduced
    whole = working_mode(Image.open(io.BytesIO(source)))
    expected = reduce_strips([whole], whole.size, (3, 3))
    assert len(strips) > 3
    assert (ours.mode, ours.size) == (expected.mode, expected.size)
    assert ours.tobytes() == expected.tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    return (left, up, up_left)[distances.index(min(distances))]


def sixteen_bit_png(colour_type: int, width: int = 40, height: int = 60) -> bytes:
    """A 16-bit RGB (2) or RGBA (6) PNG of noise whose rows use each filter type in
    turn (Pillow cannot write one), so that strips start on every kind of row."""
    rnd = random.Random(3)
    step = 6 if colour_type == 2 else 8  # bytes a pixel
    raw = [bytes(rnd.randrange(256) for _ in range(width * step)) for _ in range(height)]
    rows = []
    for y, row in enumerate(raw):
        kind, above = y % 5, raw[y - 1] if y else bytes(len(row))
        filtered = bytearray()
        for x, value in enumerate(row):
            left = row[x - step] if x >= step else 0
            up_left = above[x - step] if x >= step else 0
            predicted = (0, left, above[x], (left + above[x]) // 2, _paeth(left, above[x], up_left))[kind]
            filtered.append((value - predicted) % 256)
        rows.append(bytes([kind]) + bytes(filtered))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    idat = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.mark.parametrize("colour_type", [2, 6], ids=["RGB", "RGBA"])
def test_sixteen_bit_colour_strips_reduce_to_the_pixels_of_the_whole_image(
    colour_type: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 16-bit PNG whose strips (3 rows each) start on rows of every filter type
    monkeypatch.setattr(png, "_STRIP_BYTES", 500)
    source = sixteen_bit_png(colour_type)
    opened = Image.open(io.BytesIO(source))
    assert png.streams(source, opened)
    # When it is decoded strip by strip (the row above handed back with zero low bytes) and reduced by 3
    ours = reduce_strips(png.strips(source, opened, 3), opened.size, (3, 3))
    # Then the pixels are those of Pillow's whole decode, reduced
    whole = Image.open(io.BytesIO(source))
    assert ours.tobytes() == reduce_strips([whole.convert(whole.mode)], whole.size, (3, 3)).tobytes()


def test_resize_streams_a_png_to_the_same_result(limits: Limits, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an RGBA PNG several strips tall, resized by more than the reducing gap
    monkeypatch.setattr(png, "_STRIP_BYTES", 4000)
    source = encode(noisy("RGBA", 300, 240), "PNG")
    function = registry.load("resize", {"width": 60})
    # When it is resized reduced on load, and decoded whole
    streamed = Image.open(io.BytesIO(function.run(source, limits).data))
    monkeypatch.setattr(png, "streams", lambda source, image: False)
    whole = Image.open(io.BytesIO(function.run(source, limits).data))
    # Then both are the same picture: the same alpha, and colours within 3 levels (the
    # stream's premultiplied reduction is made straight, then premultiplied again by the
    # final filter, whose lobes widen that rounding)
    assert (streamed.mode, streamed.size) == (whole.mode, whole.size) == ("RGBA", (60, 48))
    difference = ImageChops.difference(streamed, whole)
    largest = [max(level for level, count in enumerate(band.histogram()) if count) for band in difference.split()]
    assert largest[3] == 0
    assert max(largest) <= 3


def test_a_truncated_png_is_refused_not_padded(limits: Limits) -> None:
    # Given an RGB PNG whose image data stops halfway
    source = encode(noisy("RGB", 600, 400), "PNG")
    truncated = source[: len(source) // 2]
    # When it is resized (streamed), Then it is refused as damaged
    with pytest.raises(UnsupportedImage, match="PNG"):
        registry.load("resize", {"width": 100}).run(truncated, limits)


def _png_header(depth: int, colour_type: int, interlace: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", 64, 64, depth, colour_type, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("depth", "colour_type", "interlace"),
    [(16, 4, 0), (4, 3, 0), (8, 2, 1)],
    ids=["16-bit grey with alpha", "4-bit palette", "interlaced"],
)
def test_pngs_pillow_cannot_hand_back_exactly_are_decoded_whole(depth: int, colour_type: int, interlace: int) -> None:
    source = _png_header(depth, colour_type, interlace)
    assert not png.streams(source, Image.open(io.BytesIO(source)))


def test_an_orientation_after_the_pixels_is_still_honoured(limits: Limits) -> None:
    # Given a PNG whose eXIf chunk (orientation 6: turn 90° clockwise) follows its image data
    source = encode(noisy("RGB", 300, 150), "PNG")
    exif = Image.Exif()
    exif[0x0112] = 6
    payload = exif.tobytes()[6:]  # without the "Exif\0\0" of JPEG
    source = source[:-12] + _chunk(b"eXIf", payload) + source[-12:]  # before IEND
    assert not png.streams(source, Image.open(io.BytesIO(source)))
    # When resized, Then it comes out upright (decoded whole, as the orientation asks)
    rendered = registry.load("resize", {"height": 60}).run(source, limits)
    assert Image.open(io.BytesIO(rendered.data)).size == (30, 60)  # 150×300 upright
