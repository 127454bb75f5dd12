"""grayscale, blur and sharpen."""

from __future__ import annotations

import pytest
from PIL import Image, ImageStat

from pixelmill.catalog import registry
from pixelmill.errors import InvalidRequest
from pixelmill.transforms.base import Limits
from tests.imagegen import WHITE, decode, encode, image_bytes, jpeg_bytes, rgba_png_bytes


def result(function_type: str, args: dict[str, object], source: bytes, limits: Limits) -> Image.Image:
    """``source`` processed by a function, decoded."""
    return decode(registry.load(function_type, dict(args)).run(source, limits).data)


def edge_png() -> bytes:
    """40×20: black left half, white right half."""
    image = Image.new("L", (40, 20), 0)
    image.paste(255, (20, 0, 40, 20))
    return encode(image, "PNG")


# ---------------------------------------------------------------- grayscale


def test_grayscale_of_a_jpeg_is_grey(limits: Limits) -> None:
    image = result("grayscale", {}, jpeg_bytes(60, 40), limits)
    assert (image.format, image.mode, image.size) == ("JPEG", "L", (60, 40))
    # red has a luma of 76 (ITU-R 601)
    assert abs(int(image.getpixel((15, 10))) - 76) <= 6  # type: ignore[arg-type]


def test_grayscale_keeps_alpha(limits: Limits) -> None:
    image = result("grayscale", {}, rgba_png_bytes(40, 20), limits)
    assert image.mode == "LA"
    assert image.getpixel((10, 10)) == (76, 255)
    assert image.getpixel((30, 10))[1] == 0  # type: ignore[index]


def test_grayscale_in_a_format_without_grey_is_grey_rgb(limits: Limits) -> None:
    image = result("grayscale", {}, image_bytes("WEBP", 40, 40), limits)
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((10, 10))  # type: ignore[misc]
    assert max(red, green, blue) - min(red, green, blue) <= 4


def test_grayscale_of_cmyk_kept_as_cmyk(limits: Limits) -> None:
    source = encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG")
    image = result("grayscale", {"to_srgb": False}, source, limits)
    assert image.mode == "L"


# ---------------------------------------------------------------- blur


def test_blur_softens_an_edge(limits: Limits) -> None:
    # Given a hard black/white edge, When blurred, Then pixels next to it are in between
    image = result("blur", {"radius": 3}, edge_png(), limits)
    assert image.mode == "L"
    assert 0 < int(image.getpixel((18, 10))) < 128 < int(image.getpixel((21, 10))) < 255  # type: ignore[arg-type]


def test_blur_does_not_bleed_transparent_colour(limits: Limits) -> None:
    # Given opaque white next to transparent black
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    image.paste((*WHITE, 255), (0, 0, 20, 20))
    # When blurred, Then the semi-transparent edge stays white (premultiplied blur), not grey
    blurred = result("blur", {"radius": 3}, encode(image, "PNG"), limits)
    red, green, blue, alpha = blurred.getpixel((21, 10))  # type: ignore[misc]
    assert 0 < alpha < 255
    assert min(red, green, blue) >= 250


@pytest.mark.parametrize("radius", [0, 100.5, "a lot"])
def test_blur_radius_is_bounded(radius: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("blur", {"radius": radius})
    assert caught.value.errors[0].field == "function_args.radius"


# ---------------------------------------------------------------- sharpen


def test_sharpen_increases_contrast_at_an_edge(limits: Limits) -> None:
    # Given a soft edge (blurred), When sharpened, Then it is steeper
    soft = registry.load("blur", {"radius": 2}).run(edge_png(), limits).data
    before = decode(soft)
    after = result("sharpen", {"radius": 2, "percent": 200, "threshold": 0}, soft, limits)
    assert after.size == before.size
    assert ImageStat.Stat(after).stddev[0] > ImageStat.Stat(before).stddev[0]
    assert int(after.getpixel((18, 10))) < int(before.getpixel((18, 10)))  # type: ignore[arg-type]


def test_sharpen_leaves_alpha_alone(limits: Limits) -> None:
    image = result("sharpen", {}, rgba_png_bytes(40, 20), limits)
    assert image.mode == "RGBA"
    assert image.getchannel("A").getextrema() == (0, 255)
    assert image.getpixel((30, 10))[3] == 0  # type: ignore[index]
    assert image.getpixel((10, 10))[3] == 255  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"radius": 0}, "function_args.radius"),
        ({"percent": 0}, "function_args.percent"),
        ({"percent": 501}, "function_args.percent"),
        ({"threshold": 256}, "function_args.threshold"),
    ],
)
def test_sharpen_arguments_are_bounded(args: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("sharpen", dict(args))
    assert caught.value.errors[0].field == field
