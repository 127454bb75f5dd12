"""The pipeline every photo function shares (transforms/_photo.py): formats,
limits, orientation, colour, metadata, animation, shrink-on-load, progress."""

from __future__ import annotations

import dataclasses
import io
from typing import ClassVar

import pytest
from PIL import ExifTags, Image, ImageCms

from pixelmill.catalog import registry
from pixelmill.errors import ImageTooLarge, ProcessingError, UnsupportedImage
from pixelmill.transforms._photo import detect_format, icc_colour_space
from pixelmill.transforms.base import Limits, Rendered
from pixelmill.transforms.resize import Resize
from tests.imagegen import (
    QUADRANTS,
    RED,
    WHITE,
    XMP_PACKET,
    animated_bytes,
    animated_gif_bytes,
    close_to,
    cmyk_jpeg_bytes,
    cmyk_profile,
    decode,
    decode_frames,
    encode,
    image_bytes,
    jpeg_bytes,
    pixel,
    png_header_bytes,
    quadrants,
    rgba_png_bytes,
    sample_exif,
    sample_quadrants,
    srgb_profile,
)

WRITTEN_FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "AVIF"]
PILLOW_DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS


def run(function_type: str, function_args: dict[str, object], source: bytes, limits: Limits) -> Rendered:
    """Validate the arguments as the API does and run the function."""
    return registry.load(function_type, dict(function_args)).run(source, limits)


def upright(image: Image.Image) -> bool:
    """Whether ``image`` shows the quadrants pattern the right way up."""
    colours = sample_quadrants(image)
    return all(close_to(colours[name], colour) for name, colour in QUADRANTS.items())


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", [*WRITTEN_FORMATS, "BMP"])
def test_format_is_detected_from_magic_bytes(fmt: str) -> None:
    # Given a real file of each format
    data = image_bytes(fmt, 16, 16)
    # When its format is detected, Then it is the one it was written in
    assert detect_format(data) == fmt


def test_unknown_bytes_have_no_format() -> None:
    assert detect_format(b"<html>not an image</html>") is None


def test_a_disallowed_format_is_refused(limits: Limits) -> None:
    # Given limits that do not accept BMP
    limits = dataclasses.replace(limits, allowed_input_formats=frozenset({"JPEG", "PNG"}))
    # When a BMP is processed, Then it is refused naming its real format
    with pytest.raises(UnsupportedImage, match="BMP images are not accepted"):
        run("flip", {"direction": "horizontal"}, image_bytes("BMP"), limits)


def test_the_real_format_counts_not_the_name(limits: Limits) -> None:
    # Given a PNG while only JPEG is allowed (a client may claim image/jpeg)
    limits = dataclasses.replace(limits, allowed_input_formats=frozenset({"JPEG"}))
    # Then it is refused as the PNG it is
    with pytest.raises(UnsupportedImage, match="PNG images are not accepted"):
        run("flip", {"direction": "horizontal"}, image_bytes("PNG"), limits)


@pytest.mark.parametrize("data", [b"", b"garbage" * 20, b"%PDF-1.7\n" + bytes(100)])
def test_garbage_is_an_unsupported_image(data: bytes, limits: Limits) -> None:
    with pytest.raises(UnsupportedImage) as caught:
        run("flip", {"direction": "horizontal"}, data, limits)
    assert caught.value.code == "unsupported_image"


def test_a_truncated_jpeg_is_an_unsupported_image_not_a_pillow_error(limits: Limits) -> None:
    # Given a JPEG cut after its header
    data = jpeg_bytes(200, 200)[:700]
    # Then the error is ours, with a readable message
    with pytest.raises(UnsupportedImage, match="JPEG image could not be decoded"):
        run("grayscale", {}, data, limits)


def test_bmp_is_written_as_png(limits: Limits) -> None:
    rendered = run("flip", {"direction": "vertical"}, image_bytes("BMP", 32, 20), limits)
    assert (rendered.content_type, rendered.extension) == ("image/png", "png")
    assert decode(rendered.data).format == "PNG"


@pytest.mark.parametrize("fmt", WRITTEN_FORMATS)
def test_the_source_format_is_kept(fmt: str, limits: Limits) -> None:
    rendered = run("flip", {"direction": "horizontal"}, image_bytes(fmt, 32, 24), limits)
    image = decode(rendered.data)
    assert image.format == fmt
    assert image.size == (32, 24)
    assert rendered.metadata == {"width": 32, "height": 24, "frames": 1}


def test_a_sixteen_bit_png_is_scaled_not_clipped(limits: Limits) -> None:
    # Given a 16-bit grey PNG at half intensity
    source = encode(Image.new("I;16", (8, 8), 32768), "PNG")
    # When processed, Then it comes out as 8-bit grey at half intensity (not clipped to white)
    image = decode(run("flip", {"direction": "horizontal"}, source, limits).data)
    assert image.mode == "L"
    assert image.getpixel((0, 0)) == 128


def test_a_palette_png_with_transparency_keeps_it(limits: Limits) -> None:
    # Given a palette PNG whose colour 0 is transparent
    palette_image = half_transparent_palette()
    # When blurred (filters need a real colour mode), Then it is RGBA with the transparency kept
    image = decode(run("blur", {"radius": 0.5}, encode(palette_image, "PNG", transparency=0), limits).data)
    assert image.mode == "RGBA"
    assert image.getpixel((15, 4)) == (0, 0, 0, 0)


def half_transparent_palette() -> Image.Image:
    image = Image.new("P", (16, 8), 0)
    image.putpalette([0, 0, 0, *RED])
    image.paste(1, (0, 0, 8, 8))
    return image


# ---------------------------------------------------------------- limits


def test_a_bomb_is_refused_from_its_header(limits: Limits) -> None:
    # Given a 74-byte PNG claiming 50000×50000 pixels (its data would not even decode)
    source = png_header_bytes(50_000, 50_000)
    assert len(source) < 100
    # When processed, Then it is refused as too large: had it been decoded, the error would be another
    with pytest.raises(ImageTooLarge) as caught:
        run("thumbnail", {}, source, limits)
    assert caught.value.code == "image_too_large"
    # And Pillow's process-wide limit is left as it was
    assert Image.MAX_IMAGE_PIXELS == PILLOW_DEFAULT_MAX_PIXELS


def test_a_source_over_the_pixel_limit_is_refused(limits: Limits) -> None:
    limits = dataclasses.replace(limits, max_source_pixels=1000)
    with pytest.raises(ImageTooLarge, match="1,000"):
        run("grayscale", {}, image_bytes("PNG", 40, 30), limits)


def test_an_output_over_the_limit_is_refused_before_decoding(limits: Limits) -> None:
    # Given a PNG header claiming 2000×2000 (no real pixel data) and a 5 MP output limit
    limits = dataclasses.replace(limits, max_output_pixels=5_000_000)
    # When it would be enlarged to 4000×4000, Then it is refused before any decoding
    with pytest.raises(ImageTooLarge, match="4000×4000"):
        run("resize", {"width": 4000, "upscale": True}, png_header_bytes(2000, 2000), limits)


def test_an_animation_counts_every_frame_against_the_output_limit(limits: Limits) -> None:
    limits = dataclasses.replace(limits, max_output_pixels=3 * 20 * 20 - 1)
    with pytest.raises(ImageTooLarge, match="3 frames"):
        run("flip", {"direction": "horizontal"}, animated_gif_bytes(20, 20, frames=3), limits)


def test_a_result_too_wide_for_its_format_is_refused(limits: Limits) -> None:
    # WebP holds at most 16383 pixels a side
    with pytest.raises(ImageTooLarge, match="WEBP images are at most 16383"):
        run("resize", {"width": 17000, "height": 10, "fit": "fill", "upscale": True}, image_bytes("WEBP"), limits)


def test_too_many_frames_are_refused(limits: Limits) -> None:
    limits = dataclasses.replace(limits, max_animation_frames=3)
    with pytest.raises(ImageTooLarge, match="4 frames"):
        run("grayscale", {}, animated_gif_bytes(8, 8, frames=4), limits)


# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_an_exif_rotated_jpeg_comes_out_upright(orientation: int, limits: Limits) -> None:
    # Given a 60×40 picture stored turned as EXIF orientation N says
    source = jpeg_bytes(60, 40, orientation=orientation)
    # When processed (written as PNG to read exact colours)
    image = decode(run("convert", {"format": "png"}, source, limits).data)
    # Then it is upright: red top left, green top right, blue bottom left, yellow bottom right
    assert image.size == (60, 40)
    assert upright(image)


def test_auto_orient_off_keeps_the_stored_pixels(limits: Limits) -> None:
    source = jpeg_bytes(60, 40, orientation=6)
    image = decode(run("convert", {"format": "png", "auto_orient": False}, source, limits).data)
    assert image.size == (40, 60)
    assert not upright(image)


# ---------------------------------------------------------------- colour


@pytest.mark.parametrize("with_profile", [True, False])
def test_a_cmyk_jpeg_becomes_rgb(with_profile: bool, limits: Limits) -> None:
    # Given a CMYK JPEG, with or without a CMYK ICC profile
    source = cmyk_jpeg_bytes(60, 40, with_profile=with_profile)
    # When processed, keeping JPEG
    rendered = run("flip", {"direction": "horizontal"}, source, limits)
    image = decode(rendered.data)
    # Then it is an RGB JPEG with the right colours (mirrored), and no CMYK profile left
    assert (image.format, image.mode) == ("JPEG", "RGB")
    colours = sample_quadrants(image)
    assert close_to(colours["top_right"], QUADRANTS["top_left"], tolerance=40)
    assert close_to(colours["bottom_left"], QUADRANTS["bottom_right"], tolerance=40)
    assert "icc_profile" not in image.info


def test_a_converted_profile_is_replaced_by_srgb_when_metadata_is_kept(limits: Limits) -> None:
    image = decode(run("grayscale", {"keep_metadata": True}, cmyk_jpeg_bytes(20, 20), limits).data)
    # grey results cannot carry an RGB profile
    assert "icc_profile" not in image.info
    image = decode(
        run("flip", {"direction": "horizontal", "keep_metadata": True}, cmyk_jpeg_bytes(20, 20), limits).data
    )
    profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_to_srgb_off_keeps_cmyk_and_its_profile(limits: Limits) -> None:
    rendered = run("flip", {"direction": "horizontal", "to_srgb": False}, cmyk_jpeg_bytes(20, 20), limits)
    image = decode(rendered.data)
    assert image.mode == "CMYK"
    assert image.info["icc_profile"] == cmyk_profile()


def test_an_rgb_profile_is_applied(limits: Limits) -> None:
    # Given an RGB JPEG with an embedded (sRGB) profile
    source = jpeg_bytes(40, 40, icc_profile=srgb_profile())
    # Then the colours survive the conversion and the profile is stripped
    image = decode(run("convert", {"format": "png"}, source, limits).data)
    assert upright(image)
    assert "icc_profile" not in image.info


def test_an_rgba_png_becomes_a_jpeg_flattened_on_white(limits: Limits) -> None:
    # Given an RGBA PNG: opaque red left half, transparent right half
    source = rgba_png_bytes(40, 20)
    # When converted to JPEG
    image = decode(run("convert", {"format": "jpeg"}, source, limits).data)
    # Then the left is red and the transparent right is white
    assert image.mode == "RGB"
    assert close_to(sample_quadrants(image)["top_left"], RED)
    assert close_to(sample_quadrants(image)["bottom_right"], WHITE)


# ---------------------------------------------------------------- metadata


def metadata_jpeg() -> bytes:
    """A JPEG with every kind of metadata, stored turned (orientation 6)."""
    return jpeg_bytes(
        40,
        30,
        orientation=6,
        exif=sample_exif(),
        icc_profile=srgb_profile(),
        xmp=XMP_PACKET.replace(b'tiff:Orientation="1"', b'tiff:Orientation="6"'),
        comment=b"shot by a test",
    )


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_metadata_is_stripped_by_default(fmt: str, limits: Limits) -> None:
    image = decode(run("convert", {"format": fmt}, metadata_jpeg(), limits).data)
    assert not image.getexif()
    for key in ("exif", "xmp", "comment", "icc_profile"):
        assert key not in image.info


def test_metadata_is_kept_when_asked_with_the_orientation_reset(limits: Limits) -> None:
    # When processed with keep_metadata
    rendered = run("grayscale", {"keep_metadata": True}, metadata_jpeg(), limits)
    image = decode(rendered.data)
    # Then it is upright, with EXIF (orientation 1, sub-IFDs intact), XMP and comment kept
    assert image.size == (40, 30)
    exif = image.getexif()
    assert exif[ExifTags.Base.Make] == "pixelmill-test"
    assert exif[ExifTags.Base.Orientation] == 1
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "2024:05:06 07:08:09"
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert b"dc:format" in image.info["xmp"]
    assert b"tiff:Orientation" not in image.info["xmp"]
    assert image.info["comment"] == b"shot by a test"


@pytest.mark.parametrize("fmt", ["png", "webp", "avif", "tiff"])
def test_kept_exif_survives_other_formats(fmt: str, limits: Limits) -> None:
    image = decode(run("convert", {"format": fmt, "keep_metadata": True}, metadata_jpeg(), limits).data)
    assert image.getexif()[ExifTags.Base.Make] == "pixelmill-test"
    assert icc_colour_space(image.info.get("icc_profile")) == "RGB"


# ---------------------------------------------------------------- animation


def test_an_animated_gif_keeps_its_frames_durations_and_loop(limits: Limits) -> None:
    # Given a 3-frame GIF (red, green, blue) shown 80 ms each, looping forever
    source = animated_gif_bytes(40, 20, frames=3, duration=80)
    # When resized
    rendered = run("resize", {"width": 20}, source, limits)
    frames = decode_frames(rendered.data)
    # Then every frame is resized and keeps its colour and timing
    assert len(frames) == 3
    assert frames[0].info["loop"] == 0
    assert [frame.size for frame in frames] == [(20, 10)] * 3
    assert [frame.info["duration"] for frame in frames] == [80] * 3
    colours = [sample_quadrants(frame)["top_left"] for frame in frames]
    assert colours == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert rendered.metadata == {"width": 20, "height": 10, "frames": 3}


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animated_webp_and_png_keep_their_frames(fmt: str, limits: Limits) -> None:
    rendered = run("flip", {"direction": "horizontal"}, animated_bytes(fmt, 16, 16), limits)
    assert decode(rendered.data).format == fmt
    assert len(decode_frames(rendered.data)) == 3


def test_an_animation_written_as_jpeg_keeps_the_first_frame(limits: Limits) -> None:
    rendered = run("convert", {"format": "jpeg"}, animated_gif_bytes(16, 16), limits)
    image = decode(rendered.data)
    assert close_to(sample_quadrants(image)["top_left"], RED)
    assert rendered.metadata == {"width": 16, "height": 16, "frames": 1}


# ---------------------------------------------------------------- shrink-on-load


class RecordingResize(Resize):
    """A resize that records the size of the image it is given and the full size it stands for."""

    seen: ClassVar[list[tuple[tuple[int, int], tuple[int, int]]]] = []

    def apply_to_reduced(self, image: Image.Image, full_size: tuple[int, int]) -> Image.Image:
        RecordingResize.seen.append((image.size, full_size))
        return super().apply_to_reduced(image, full_size)


@pytest.fixture
def recording_resize() -> type[RecordingResize]:
    RecordingResize.seen = []
    return RecordingResize


def test_a_large_jpeg_is_decoded_reduced(recording_resize: type[RecordingResize], limits: Limits) -> None:
    # Given a 3000×2000 JPEG and a resize to 600 px wide
    source = jpeg_bytes(3000, 2000, quality=80)
    # When run
    rendered = recording_resize(width=600).run(source, limits)
    # Then the decoder gave a quarter-size image (the smallest not below 600×400), and the result is exact
    assert recording_resize.seen == [((750, 500), (3000, 2000))]
    image = decode(rendered.data)
    assert image.size == (600, 400)
    assert upright(image)


def test_shrink_on_load_honours_exif_orientation(recording_resize: type[RecordingResize], limits: Limits) -> None:
    # Given a JPEG stored 3000×2000 that is 2000×3000 upright (orientation 6)
    source = jpeg_bytes(2000, 3000, orientation=6, quality=80)
    # When resized to 500 wide, Then the draft was asked in stored coordinates and the result is upright
    image = decode(recording_resize(width=500).run(source, limits).data)
    assert recording_resize.seen == [((500, 750), (2000, 3000))]
    assert image.size == (500, 750)
    assert upright(image)


def test_shrink_on_load_gives_the_same_picture(limits: Limits) -> None:
    # Given a 2400×1600 JPEG, resized with shrink-on-load and, as a reference, from a full decode
    source = jpeg_bytes(2400, 1600, quality=80)
    reduced = decode(run("resize", {"width": 300}, source, limits).data).convert("RGB")
    reference = decode(source).resize((300, 200), Image.Resampling.LANCZOS)
    # Then they differ by little on average
    difference = [
        abs(a - b)
        for x, y in ((75, 50), (225, 50), (75, 150), (225, 150), (150, 100))
        for a, b in zip(pixel(reduced, x, y), pixel(reference, x, y), strict=True)
    ]
    assert sum(difference) / len(difference) < 8


# ---------------------------------------------------------------- progress and errors


def test_progress_goes_from_decoded_to_encoded(limits: Limits) -> None:
    reported: list[int] = []
    registry.load("grayscale", {}).run(image_bytes("PNG"), limits, reported.append)
    assert reported == [10, 60, 100]


def test_progress_of_an_animation_grows(limits: Limits) -> None:
    reported: list[int] = []
    registry.load("grayscale", {}).run(animated_gif_bytes(8, 8, frames=10), limits, reported.append)
    assert reported[0] == 10
    assert reported[-2:] == [60, 100]
    assert reported == sorted(reported)
    assert len(reported) < 10  # not one report per frame: a report may cost a database write


def test_an_encoder_failure_is_a_processing_error(limits: Limits, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an encoder that refuses its input
    source = image_bytes("PNG")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("encoder error -2")

    monkeypatch.setattr(Image.Image, "save", refuse)
    # Then the task fails for good with a readable reason
    with pytest.raises(ProcessingError, match="could not be written as PNG") as caught:
        run("grayscale", {}, source, limits)
    assert caught.value.code == "encode_failed"


def test_quadrants_helper_is_upright() -> None:
    # The helpers the other tests rely on
    assert upright(quadrants(40, 20))
    assert not upright(quadrants(40, 20).transpose(Image.Transpose.ROTATE_180))
