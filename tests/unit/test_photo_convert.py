"""convert."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops

from pixelmill.catalog import registry
from pixelmill.errors import InvalidRequest
from pixelmill.transforms.base import Limits
from pixelmill.transforms.convert import Convert
from tests.imagegen import (
    animated_gif_bytes,
    decode,
    decode_frames,
    encode,
    image_bytes,
    jpeg_bytes,
    quadrants,
    rgba_png_bytes,
)


@pytest.mark.parametrize(
    ("fmt", "pillow_format", "content_type", "extension"),
    [
        ("jpeg", "JPEG", "image/jpeg", "jpg"),
        ("png", "PNG", "image/png", "png"),
        ("webp", "WEBP", "image/webp", "webp"),
        ("avif", "AVIF", "image/avif", "avif"),
        ("tiff", "TIFF", "image/tiff", "tif"),
        ("gif", "GIF", "image/gif", "gif"),
    ],
)
def test_convert_writes_the_format(
    fmt: str, pillow_format: str, content_type: str, extension: str, limits: Limits
) -> None:
    # Given a JPEG, When converted, Then the result is a real file of the format, described as such
    rendered = registry.load("convert", {"format": fmt}).run(jpeg_bytes(40, 30), limits)
    assert (rendered.content_type, rendered.extension) == (content_type, extension)
    image = decode(rendered.data)
    assert (image.format, image.size) == (pillow_format, (40, 30))


@pytest.mark.parametrize("fmt", ["png", "webp", "avif", "tiff", "gif"])
def test_convert_keeps_transparency_where_it_can(fmt: str, limits: Limits) -> None:
    image = decode(registry.load("convert", {"format": fmt}).run(rgba_png_bytes(40, 20), limits).data).convert("RGBA")
    pixel = image.getpixel((30, 10))
    assert isinstance(pixel, tuple)
    assert pixel[3] == 0


def test_quality_changes_the_size(limits: Limits) -> None:
    # Given a noisy picture (JPEG cannot compress noise much), When written at low and high quality
    noisy = encode(Image.effect_noise((200, 200), 50).convert("RGB"), "PNG")
    low = registry.load("convert", {"format": "jpeg", "quality": 20}).run(noisy, limits)
    high = registry.load("convert", {"format": "jpeg", "quality": 95}).run(noisy, limits)
    # Then the low quality file is smaller
    assert len(low.data) < len(high.data)


def test_lossless_webp_is_exact(limits: Limits) -> None:
    rendered = registry.load("convert", {"format": "webp", "lossless": True}).run(image_bytes("PNG", 40, 30), limits)
    difference = ImageChops.difference(decode(rendered.data).convert("RGB"), quadrants(40, 30))
    assert difference.getbbox() is None


def test_an_animation_converted_to_webp_stays_animated(limits: Limits) -> None:
    rendered = registry.load("convert", {"format": "webp"}).run(animated_gif_bytes(16, 16, frames=3), limits)
    assert decode(rendered.data).format == "WEBP"
    assert len(decode_frames(rendered.data)) == 3


def test_save_options_follow_the_arguments() -> None:
    assert Convert(format="jpeg").save_options("JPEG") == {"quality": 85, "optimize": True}
    assert Convert(format="webp").save_options("WEBP") == {"quality": 80, "method": 0}
    assert Convert(format="webp", quality=50, effort=6, lossless=True).save_options("WEBP") == {
        "quality": 50,
        "method": 6,
        "lossless": True,
    }
    assert Convert(format="avif").save_options("AVIF") == {"quality": 60, "speed": 8}
    assert Convert(format="avif", effort=4).save_options("AVIF")["speed"] == 6


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "function_args.format"),
        ({"format": "bmp"}, "function_args.format"),
        ({"format": "jpeg", "lossless": True}, "function_args.lossless"),
        ({"format": "avif", "lossless": True}, "function_args.lossless"),
        ({"format": "png", "quality": 80}, "function_args.quality"),
        ({"format": "jpeg", "quality": 0}, "function_args.quality"),
        ({"format": "jpeg", "quality": 101}, "function_args.quality"),
        ({"format": "jpeg", "effort": 3}, "function_args.effort"),
        ({"format": "avif", "effort": 5}, "function_args.effort"),
        ({"format": "webp", "effort": 7}, "function_args.effort"),
    ],
)
def test_bad_arguments_name_the_field(args: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("convert", dict(args))
    assert [error.field for error in caught.value.errors] == [field]


@pytest.mark.parametrize(
    "args", [{"format": "png", "lossless": True}, {"format": "webp", "lossless": True, "quality": 100}]
)
def test_lossless_where_it_makes_sense(args: dict[str, object]) -> None:
    assert registry.load("convert", dict(args))
