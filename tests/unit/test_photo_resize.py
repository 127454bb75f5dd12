"""resize and thumbnail."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops

from pixelmill.catalog import registry
from pixelmill.errors import InvalidRequest
from pixelmill.transforms._photo import REDUCING_GAP, downscale, resample_in_bands
from pixelmill.transforms.base import Limits
from pixelmill.transforms.resize import Resize
from tests.imagegen import (
    GREEN,
    QUADRANTS,
    RED,
    close_to,
    decode,
    image_bytes,
    jpeg_bytes,
    quadrants,
    rgba_png_bytes,
    sample_quadrants,
)


def resized(args: dict[str, object], source: bytes, limits: Limits) -> tuple[int, int]:
    """The size of ``source`` resized with ``args``."""
    function = registry.load("resize", dict(args))
    image = decode(function.run(source, limits).data)
    return image.size


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"width": 100}, (100, 50)),
        ({"height": 100}, (200, 100)),
        ({"width": 100, "height": 100}, (100, 50)),
        ({"width": 100, "height": 100, "fit": "contain"}, (100, 50)),
        ({"width": 100, "height": 100, "fit": "outside"}, (200, 100)),
        ({"width": 100, "height": 100, "fit": "cover"}, (100, 100)),
        ({"width": 100, "height": 100, "fit": "fill"}, (100, 100)),
        ({"width": 100, "fit": "fill"}, (100, 50)),
        ({"width": 30, "height": 90, "fit": "cover"}, (30, 90)),
    ],
)
def test_fit_modes(args: dict[str, object], expected: tuple[int, int], limits: Limits) -> None:
    # Given a 400×200 PNG, When resized, Then it has the size its fit mode defines
    source = image_bytes("PNG", 400, 200)
    assert resized(args, source, limits) == expected
    assert Resize.model_validate(args).output_size((400, 200)) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"width": 800}, (400, 200)),
        ({"width": 800, "upscale": True}, (800, 400)),
        ({"width": 800, "height": 100, "fit": "fill"}, (400, 100)),
        ({"width": 800, "height": 100, "fit": "cover"}, (400, 100)),
        ({"width": 800, "height": 800, "fit": "outside"}, (400, 200)),
        ({"width": 800, "height": 800, "fit": "outside", "upscale": True}, (1600, 800)),
    ],
)
def test_no_upscaling_unless_asked(args: dict[str, object], expected: tuple[int, int], limits: Limits) -> None:
    # Given a 400×200 image: a larger target leaves it at most its own size unless upscale is true
    assert resized(args, image_bytes("PNG", 400, 200), limits) == expected


def test_cover_crops_the_centre(limits: Limits) -> None:
    # Given 400×200 quadrants, When covering a 100×100 box
    image = decode(
        registry.load("resize", {"width": 100, "height": 100, "fit": "cover"})
        .run(image_bytes("PNG", 400, 200), limits)
        .data
    )
    # Then the middle square is kept: red/green on top, each half of the result
    colours = sample_quadrants(image)
    assert close_to(colours["top_left"], RED)
    assert close_to(colours["top_right"], GREEN)


def test_fill_stretches(limits: Limits) -> None:
    image = decode(
        registry.load("resize", {"width": 50, "height": 200, "fit": "fill"})
        .run(image_bytes("PNG", 400, 200), limits)
        .data
    )
    assert image.size == (50, 200)
    assert all(close_to(sample_quadrants(image)[name], colour) for name, colour in QUADRANTS.items())


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "AVIF"])
def test_resize_keeps_the_format(fmt: str, limits: Limits) -> None:
    rendered = registry.load("resize", {"width": 50}).run(image_bytes(fmt, 100, 80), limits)
    image = decode(rendered.data)
    assert (image.format, image.size) == (fmt, (50, 40))


def test_resize_keeps_alpha(limits: Limits) -> None:
    image = decode(registry.load("resize", {"width": 20}).run(rgba_png_bytes(40, 20), limits).data)
    assert (image.mode, image.size) == ("RGBA", (20, 10))
    assert image.getpixel((15, 5)) == (0, 0, 0, 0)


def test_nearest_keeps_exact_colours(limits: Limits) -> None:
    image = decode(
        registry.load("resize", {"width": 37, "resample": "nearest"}).run(image_bytes("PNG", 100, 100), limits).data
    )
    assert sample_quadrants(image) == QUADRANTS


def test_cover_with_shrink_on_load_is_exact(limits: Limits) -> None:
    # Given a large JPEG decoded reduced, When covering a box, Then the box is exact and centred
    rendered = registry.load("resize", {"width": 300, "height": 300, "fit": "cover"}).run(
        jpeg_bytes(3000, 1500, quality=80), limits
    )
    image = decode(rendered.data)
    assert image.size == (300, 300)
    assert close_to(sample_quadrants(image)["top_left"], RED)
    assert close_to(sample_quadrants(image)["top_right"], GREEN)


def test_draft_size_is_only_asked_when_shrinking() -> None:
    assert Resize(width=600).draft_size((3000, 2000)) == (600, 400)
    assert Resize(width=100, height=100, fit="cover").draft_size((3000, 2000)) == (150, 100)
    assert Resize(width=3000).draft_size((3000, 2000)) is None
    assert Resize(width=4000, upscale=True).draft_size((3000, 2000)) is None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "function_args"),
        ({"width": 0}, "function_args.width"),
        ({"height": 20001}, "function_args.height"),
        ({"width": 10, "fit": "stretch"}, "function_args.fit"),
        ({"width": 10, "resample": "magic"}, "function_args.resample"),
        ({"width": 10, "colour": "red"}, "function_args.colour"),
    ],
)
def test_bad_arguments_name_the_field(args: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("resize", dict(args))
    assert [error.field for error in caught.value.errors] == [field]


# ---------------------------------------------------------------- thumbnail


@pytest.mark.parametrize(
    ("size", "source", "expected"),
    [
        (100, (400, 300), (100, 75)),
        (100, (300, 400), (75, 100)),
        (256, (50, 40), (50, 40)),
        (64, (1000, 10), (64, 1)),
    ],
)
def test_thumbnail_fits_the_longest_side(
    size: int, source: tuple[int, int], expected: tuple[int, int], limits: Limits
) -> None:
    rendered = registry.load("thumbnail", {"size": size}).run(image_bytes("PNG", *source), limits)
    assert decode(rendered.data).size == expected


def test_thumbnail_of_a_large_jpeg(limits: Limits) -> None:
    # Given a 3000×2000 JPEG, When thumbnailed with the default size, Then 256×171, upright
    image = decode(registry.load("thumbnail", {}).run(jpeg_bytes(3000, 2000, quality=80), limits).data)
    assert (image.format, image.size) == ("JPEG", (256, 171))
    assert all(close_to(sample_quadrants(image)[name], colour) for name, colour in QUADRANTS.items())


def test_thumbnail_size_is_bounded() -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("thumbnail", {"size": 5000})
    assert caught.value.errors[0].field == "function_args.size"


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_an_image_with_alpha_is_reduced_strip_by_strip_to_the_same_pixels(mode: str) -> None:
    # Given a picture with a soft alpha, taller than a strip, and a size that reduces it by 3 first
    image = Image.merge("RGBA", (*quadrants(300, 700).split(), Image.linear_gradient("L").resize((300, 700))))
    image = image.convert(mode)
    # When downscaled without holding a whole premultiplied copy
    ours = downscale(image, (60, 140), Image.Resampling.LANCZOS, (0, 0, 300, 700))
    # Then the pixels are exactly Pillow's own premultiplied resize with the same reducing gap
    pillow = image.resize((60, 140), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    assert ours.mode == mode
    assert ours.tobytes() == pillow.tobytes()


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBa"])
@pytest.mark.parametrize("resample", [Image.Resampling.LANCZOS, Image.Resampling.BICUBIC, Image.Resampling.NEAREST])
def test_a_large_resample_in_two_bands_is_the_whole_resize(mode: str, resample: Image.Resampling) -> None:
    # Noise, so that every coefficient shows: each band is its own part of the box, read with the whole filter.
    source = Image.effect_noise((1500, 1000), 80).convert("RGB").convert(mode)
    box = (30.5, 20.0, 1490.0, 990.25)
    banded = resample_in_bands(source, (640, 427), resample, box)
    whole = source.resize((640, 427), resample, box=box)
    assert banded.mode == mode
    assert banded.size == whole.size
    assert max(ImageChops.difference(banded, whole).tobytes()) <= 1
