"""HEIC/HEIF (pillow-heif) and JPEG 2000 (Pillow's OpenJPEG decoder) as photo sources."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import ExifTags, Image

from pixelmill.catalog import registry
from pixelmill.errors import ImageTooLarge, UnsupportedImage
from pixelmill.transforms._photo import detect_format
from pixelmill.transforms.base import Limits, Rendered
from tests.imagegen import (
    QUADRANTS,
    close_to,
    decode,
    encode,
    heic_bytes,
    heic_header_bytes,
    jp2_header_bytes,
    quadrants,
    sample_exif,
    sample_quadrants,
    srgb_profile,
)


def run(function_type: str, function_args: dict[str, object], source: bytes, limits: Limits) -> Rendered:
    return registry.load(function_type, dict(function_args)).run(source, limits)


def upright(image: Image.Image) -> bool:
    colours = sample_quadrants(image)
    return all(close_to(colours[name], colour) for name, colour in QUADRANTS.items())


def jp2_bytes(width: int, height: int, *, codestream: bool = False, mode: str = "RGB") -> bytes:
    """The quadrants pattern as a JPEG 2000 file (.jp2) or bare codestream (.j2k), lossless."""
    return encode(quadrants(width, height, mode), "JPEG2000", no_jp2=codestream)


# ---------------------------------------------------------------- recognised by their bytes


def test_heic_and_jpeg_2000_are_recognised_by_their_bytes() -> None:
    assert detect_format(heic_bytes(16, 16)) == "HEIF"
    assert detect_format(jp2_bytes(16, 16)) == "JPEG2000"
    assert detect_format(jp2_bytes(16, 16, codestream=True)) == "JPEG2000"


def test_an_mp4_video_is_not_taken_for_heif() -> None:
    # Given the start of an MP4 (the same ISO box structure, other brands)
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(40)
    assert detect_format(mp4) is None


def test_heic_is_refused_when_not_allowed(limits: Limits) -> None:
    limits = dataclasses.replace(limits, allowed_input_formats=frozenset({"JPEG"}))
    with pytest.raises(UnsupportedImage, match="HEIF images are not accepted"):
        run("thumbnail", {}, heic_bytes(16, 16), limits)


# ---------------------------------------------------------------- HEIC


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_rotated_heic_comes_out_upright_as_jpeg(orientation: int, limits: Limits) -> None:
    # Given a 64×48 picture from a phone, stored turned as its orientation says
    source = heic_bytes(64, 48, orientation=orientation)
    # When resized
    rendered = run("resize", {"width": 32}, source, limits)
    # Then it is an upright JPEG (browsers cannot show HEIC)
    image = decode(rendered.data)
    assert (image.format, rendered.content_type) == ("JPEG", "image/jpeg")
    assert image.size == (32, 24)
    assert upright(image)


def test_a_heic_keeps_its_exif_when_asked_with_the_orientation_reset(limits: Limits) -> None:
    source = heic_bytes(64, 48, orientation=6, exif=sample_exif())
    image = decode(run("convert", {"format": "png", "keep_metadata": True}, source, limits).data)
    exif = image.getexif()
    assert exif[ExifTags.Base.Make] == "pixelmill-test"
    assert exif.get(ExifTags.Base.Orientation, 1) == 1
    assert upright(image)


def test_a_heic_profile_is_applied_and_stripped(limits: Limits) -> None:
    source = heic_bytes(48, 48, icc_profile=srgb_profile())
    assert "icc_profile" in decode(source).info
    image = decode(run("convert", {"format": "png"}, source, limits).data)
    assert upright(image)
    assert "icc_profile" not in image.info


def test_a_heic_bomb_is_refused_from_its_header(limits: Limits) -> None:
    # Given a 64 px HEIC whose header claims 20000×20000 (within libheif's own limits, over ours)
    source = heic_header_bytes(20_000, 20_000)
    # Then it is refused as too large, not as a broken file (decoding would find the lie)
    with pytest.raises(ImageTooLarge):
        run("thumbnail", {}, source, limits)


# ---------------------------------------------------------------- JPEG 2000


@pytest.mark.parametrize("codestream", [False, True], ids=["jp2", "j2k"])
def test_jpeg_2000_is_decoded_and_written_as_png(codestream: bool, limits: Limits) -> None:
    rendered = run("flip", {"direction": "vertical"}, jp2_bytes(40, 30, codestream=codestream), limits)
    image = decode(rendered.data)
    assert (image.format, image.size) == ("PNG", (40, 30))
    assert upright(image.transpose(Image.Transpose.FLIP_TOP_BOTTOM))


def test_a_sixteen_bit_jpeg_2000_is_scaled_not_clipped(limits: Limits) -> None:
    source = encode(Image.new("I;16", (8, 8), 32768), "JPEG2000")
    image = decode(run("thumbnail", {}, source, limits).data)
    assert image.mode == "L"
    assert image.getpixel((0, 0)) == 128


def test_a_jpeg_2000_bomb_is_refused_from_its_header(limits: Limits) -> None:
    # Given a 64 px codestream whose header claims 50000×50000 RGB pixels
    source = jp2_header_bytes(50_000, 50_000)
    with pytest.raises(ImageTooLarge):
        run("thumbnail", {}, source, limits)
