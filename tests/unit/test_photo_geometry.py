"""crop, rotate and flip."""

from __future__ import annotations

import pytest
from PIL import Image

from pixelmill.catalog import registry
from pixelmill.errors import InvalidRequest, ProcessingError
from pixelmill.transforms.base import Limits
from pixelmill.transforms.rotate import Rotate
from tests.imagegen import (
    BLUE,
    GREEN,
    QUADRANTS,
    RED,
    WHITE,
    YELLOW,
    Colour,
    close_to,
    decode,
    image_bytes,
    jpeg_bytes,
    png_header_bytes,
    sample_quadrants,
)


def result(function_type: str, args: dict[str, object], source: bytes, limits: Limits) -> Image.Image:
    """``source`` processed by a function, decoded."""
    return decode(registry.load(function_type, dict(args)).run(source, limits).data)


def corners(image: Image.Image) -> dict[str, Colour]:
    return sample_quadrants(image)


# ---------------------------------------------------------------- crop


def test_crop_cuts_the_rectangle(limits: Limits) -> None:
    # Given 80×40 quadrants, When the top-right 40×20 is cut out
    image = result("crop", {"left": 40, "top": 0, "width": 40, "height": 20}, image_bytes("PNG", 80, 40), limits)
    # Then it is 40×20 and all green
    assert image.size == (40, 20)
    assert set(corners(image).values()) == {GREEN}


def test_crop_coordinates_are_upright(limits: Limits) -> None:
    # Given a JPEG stored turned (orientation 8), 80×40 upright, When its bottom-left quarter is cut
    image = result("crop", {"left": 0, "top": 20, "width": 40, "height": 20}, jpeg_bytes(80, 40, orientation=8), limits)
    # Then it is the blue quarter of the upright picture
    assert image.size == (40, 20)
    assert all(close_to(colour, BLUE) for colour in corners(image).values())


@pytest.mark.parametrize(
    "box",
    [
        {"left": 70, "top": 0, "width": 20, "height": 10},
        {"left": 0, "top": 30, "width": 10, "height": 20},
        {"left": 100, "top": 100, "width": 1, "height": 1},
    ],
)
def test_a_crop_outside_the_image_fails_before_decoding(box: dict[str, int], limits: Limits) -> None:
    # Given a PNG header claiming 80×40 (its pixels would not even decode)
    source = png_header_bytes(80, 40)
    # When a rectangle outside it is asked, Then invalid_crop, with the sizes in the message
    with pytest.raises(ProcessingError, match="outside the 80×40 image") as caught:
        registry.load("crop", dict(box)).run(source, limits)
    assert caught.value.code == "invalid_crop"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"left": -1, "top": 0, "width": 1, "height": 1}, "function_args.left"),
        ({"left": 0, "top": 0, "width": 0, "height": 1}, "function_args.width"),
        ({"left": 0, "top": 0, "width": 1}, "function_args.height"),
    ],
)
def test_crop_arguments_are_validated(args: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("crop", dict(args))
    assert [error.field for error in caught.value.errors] == [field]


# ---------------------------------------------------------------- rotate


@pytest.mark.parametrize(
    ("angle", "expected"),
    [
        (90, {"top_left": BLUE, "top_right": RED, "bottom_left": YELLOW, "bottom_right": GREEN}),
        (-270, {"top_left": BLUE, "top_right": RED, "bottom_left": YELLOW, "bottom_right": GREEN}),
        (-90, {"top_left": GREEN, "top_right": YELLOW, "bottom_left": RED, "bottom_right": BLUE}),
        (180, {"top_left": YELLOW, "top_right": BLUE, "bottom_left": GREEN, "bottom_right": RED}),
        (360, QUADRANTS),
    ],
)
def test_quarter_turns_are_exact_and_clockwise(angle: float, expected: dict[str, Colour], limits: Limits) -> None:
    # Given 60×40 quadrants as PNG, When turned by a multiple of 90°
    image = result("rotate", {"angle": angle}, image_bytes("PNG", 60, 40), limits)
    # Then the corners moved clockwise, exactly, with no fill
    assert image.size == ((40, 60) if angle % 180 else (60, 40))
    assert image.mode == "RGB"
    assert corners(image) == expected


def test_an_arbitrary_angle_fills_corners_transparent(limits: Limits) -> None:
    image = result("rotate", {"angle": 45}, image_bytes("PNG", 40, 40), limits)
    assert image.mode == "RGBA"
    assert image.size == (58, 58)
    assert image.getpixel((0, 0)) == (0, 0, 0, 0)
    assert image.getpixel((29, 29))[3] == 255  # type: ignore[index]


def test_an_arbitrary_angle_fills_white_in_jpeg(limits: Limits) -> None:
    image = result("rotate", {"angle": 30}, jpeg_bytes(40, 40), limits)
    assert image.mode == "RGB"
    assert close_to(image.getpixel((0, 0)), WHITE)  # type: ignore[arg-type]


def test_fill_colour(limits: Limits) -> None:
    image = result("rotate", {"angle": 45, "fill": "#000"}, image_bytes("PNG", 40, 40), limits)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (0, 0, 0)


def test_rotate_without_expand_keeps_the_size(limits: Limits) -> None:
    for angle in (30, 90):
        assert result("rotate", {"angle": angle, "expand": False}, image_bytes("PNG", 60, 40), limits).size == (60, 40)


@pytest.mark.parametrize("angle", [1, 17.5, 30, 45, 89.9, 135, 200, -33])
@pytest.mark.parametrize("size", [(60, 40), (33, 77)])
def test_predicted_rotated_size_is_exact(angle: float, size: tuple[int, int]) -> None:
    rotate = Rotate(angle=angle)
    assert rotate.output_size(size) == rotate.apply(Image.new("RGB", size)).size


@pytest.mark.parametrize("fill", ["red", "#12345", "ffffff", "#gggggg"])
def test_fill_must_be_a_hex_colour(fill: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("rotate", {"angle": 10, "fill": fill})
    assert caught.value.errors[0].field == "function_args.fill"


def test_angle_is_bounded() -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("rotate", {"angle": 361})
    assert caught.value.errors[0].field == "function_args.angle"


# ---------------------------------------------------------------- flip


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ("horizontal", {"top_left": GREEN, "top_right": RED, "bottom_left": YELLOW, "bottom_right": BLUE}),
        ("vertical", {"top_left": BLUE, "top_right": YELLOW, "bottom_left": RED, "bottom_right": GREEN}),
    ],
)
def test_flip_mirrors(direction: str, expected: dict[str, Colour], limits: Limits) -> None:
    image = result("flip", {"direction": direction}, image_bytes("PNG", 60, 40), limits)
    assert image.size == (60, 40)
    assert corners(image) == expected


def test_flip_needs_a_direction() -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("flip", {"direction": "diagonal"})
    assert caught.value.errors[0].field == "function_args.direction"
