"""What every photo function shares: decoding with limits, and encoding.

``PhotoFunction.run`` is the one pipeline of every Pillow function:

1. detect the real format from the bytes (magic bytes, never a claimed type)
   and refuse formats that are not allowed;
2. open the header only and refuse, before any pixel is decoded, a source over
   ``max_source_pixels`` or ``max_animation_frames`` and a result over
   ``max_output_pixels`` (from the function's ``output_size``);
3. decode, shrunk on load for JPEG when the function's ``draft_size`` allows;
4. per frame: turn it upright (EXIF orientation), convert CMYK and embedded
   ICC profiles to sRGB, bring it to a working mode (L, LA, RGB or RGBA) and
   ``apply`` the function;
5. encode in the output format without the source's metadata, unless asked to
   keep it.

A function only says what it does to one frame (``apply``) and, when it
changes the size, which size it makes (``output_size``).
"""

from __future__ import annotations

import io
import itertools
import re
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from PIL import ExifTags, Image, ImageCms, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from pixelmill.catalog.photo import (
    OUTPUT_FORMATS,
    Box,
    OutputFormat,
    PhotoArgs,
    Size,
    check_pixels,
    check_radius,
    check_work,
    default_output_format,
)
from pixelmill.errors import ImageTooLarge, LimitExceeded, PixelmillError, ProcessingError, UnsupportedImage, readable
from pixelmill.formats import signature_format
from pixelmill.transforms import _png as png
from pixelmill.transforms.base import ImageFunction, Limits, Progress, Rendered, no_progress

__all__ = [
    "OUTPUT_FORMATS",
    "Box",
    "OutputFormat",
    "PhotoFunction",
    "Size",
    "check_radius",
    "default_output_format",
    "detect_format",
]

WHITE = (255, 255, 255)

# Formats whose frames are an animation (TIFF pages and MPO's second picture
# are not: only their first image is used).
ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG", "AVIF"})

# Downscaling first averages whole blocks of pixels (``Image.reduce``) down to
# at least 1.5 times the target size, then applies the filter: several times
# faster than the filter over the whole source, with a smaller intermediate
# image than libvips' gap of 2 (-8 MiB on 12 MP); `make bench` checks the result
# against the filter alone (PSNR above 50 dB on its photos, 38 required).
REDUCING_GAP = 1.5

# EXIF orientations whose transposition swaps width and height.
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


# ---------------------------------------------------------------- detection


def detect_format(data: bytes, candidates: Iterable[str] = ()) -> str | None:
    """The Pillow format name of ``data`` from its magic bytes, or None.

    Common formats are recognised by their signature; ``candidates`` (e.g. the
    allowed input formats) adds other Pillow formats, recognised by Pillow's own
    signature check.
    """
    head = data[:64]
    if found := signature_format(head):
        return found
    Image.init()
    for name in sorted(candidates):
        plugin = Image.OPEN.get(name)
        accept = plugin[1] if plugin else None
        # A plugin without a signature check would accept anything.
        if accept is not None and (verdict := accept(head)) and not isinstance(verdict, str):
            return name
    return None


# ---------------------------------------------------------------- decoding


@contextmanager
def _pillow_limits(limits: Limits) -> Iterator[None]:
    """Let Pillow's own decompression-bomb check enforce our limit, as an error.

    Pillow only warns between ``MAX_IMAGE_PIXELS`` and twice that; the warning
    is turned into an error here. The limit is process-wide in Pillow: Lambda
    runs one task at a time per process, and it is restored afterwards.
    """
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(limits.max_source_pixels, limits.max_output_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(
            f"the image has more than {limits.max_source_pixels:,} pixels, the limit for a source image"
        ) from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


@contextmanager
def _decoding(fmt: str) -> Iterator[None]:
    """Turn whatever Pillow raises while reading a damaged file into UnsupportedImage."""
    try:
        yield
    except (PixelmillError, MemoryError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except UnidentifiedImageError:  # its text holds the repr of the file object
        raise UnsupportedImage(
            f"the {fmt} image could not be decoded: Pillow does not recognise its content as {fmt} (damaged or "
            "mislabelled)"
        ) from None
    except Exception as error:  # Pillow's plugins raise many types for broken files
        raise UnsupportedImage(
            f"the {fmt} image could not be decoded: {readable(error, 'its data is damaged')}"
        ) from None


def open_image(source: bytes, limits: Limits) -> ImageFile.ImageFile:
    """Open ``source`` (its header only) after checking its real format, and
    refuse it if it is over the pixel or frame limits.

    Raises UnsupportedImage for an unknown, disallowed or damaged file and
    ImageTooLarge over a limit. Call it inside ``PhotoFunction.run``'s limits.
    """
    fmt = detect_format(source, limits.allowed_input_formats)
    if fmt is None:
        raise UnsupportedImage("the file is not an image of a known format")
    if fmt not in limits.allowed_input_formats:
        allowed = ", ".join(sorted(limits.allowed_input_formats))
        raise UnsupportedImage(f"{fmt} images are not accepted (accepted: {allowed})")
    if fmt == "HEIF":
        _register_heif()
    with _decoding(fmt):
        image = Image.open(io.BytesIO(source), formats=[fmt])
    try:
        _check_source(image, limits)
    except BaseException:
        image.close()
        raise
    return image


@cache
def _register_heif() -> None:
    """Teach Pillow HEIF (pillow-heif, libheif), on the first HEIF source only.

    Only the primary image is decoded: the thumbnails, depth maps and auxiliary
    images phones add are skipped. libheif applies the image's rotation and
    mirroring (``irot``/``imir``, which iPhones write as well as the EXIF
    orientation) and reports the EXIF orientation as 1, so a HEIC comes out
    upright whatever ``auto_orient`` says. Its own security limits stay on.
    """
    import pillow_heif

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _check_source(image: ImageFile.ImageFile, limits: Limits) -> None:
    # Pillow has already checked the pixels with the same limit (see _pillow_limits);
    # this states the rule whatever Pillow does.
    width, height = image.size
    if width * height > limits.max_source_pixels:
        raise ImageTooLarge(
            f"the image is {width}×{height} = {width * height:,} pixels, over the limit of {limits.max_source_pixels:,}"
        )
    frames = animation_frames(image)
    if frames > limits.max_animation_frames:
        raise ImageTooLarge(f"the animation has {frames} frames, over the limit of {limits.max_animation_frames}")


def animation_frames(image: ImageFile.ImageFile) -> int:
    """How many frames of animation ``image`` has (1 for a still image)."""
    if image.format not in ANIMATED_FORMATS:
        return 1
    with _decoding(image.format):
        return int(getattr(image, "n_frames", 1))


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1..8) of ``image``, read from the header; 1 if none."""
    if image.format == "PNG" and "exif" not in image.info:
        # Pillow would decode the whole PNG to look for an eXIf chunk after the
        # pixels; such late chunks are still honoured after decoding.
        return 1
    with _decoding(image.format or "source"):
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def oriented_size(size: Size, orientation: int) -> Size:
    """The size of an image of stored ``size`` once turned upright."""
    return (size[1], size[0]) if orientation in _SWAPPING_ORIENTATIONS else size


def scale_box(box: Box, full_size: Size, image_size: Size) -> Box:
    """``box``, in the coordinates of the full-size image, in those of the same
    image decoded reduced by JPEG shrink-on-load (an integer factor 1, 2, 4 or
    8; the reduced size is rounded up, so the factor is recovered by rounding)."""
    factor = max(1, round(full_size[0] / image_size[0]))
    return (box[0] / factor, box[1] / factor, box[2] / factor, box[3] / factor)


_WORKING_MODES = frozenset({"L", "LA", "RGB", "RGBA", "CMYK"})


def bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow keeps per pixel of ``mode``: 1 for 1-byte modes, 2 for 16-bit grey,
    4 for 32-bit integers and floats and for every multi-band mode (RGB is held as 4)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def memory_needed(mode: str, decoded: Size, made: list[Size], frame_count: int) -> int:
    """An estimate, in decoded bytes, of the memory a photo task needs: the source as
    decoded (at its own depth), the copies converting it to a working mode makes, the
    largest image a step reads and writes at once (at 4 bytes a pixel), and the frames
    of an animation kept until they are encoded."""
    pixels = decoded[0] * decoded[1]
    source = pixels * bytes_per_pixel(mode)
    if mode.startswith("I") or mode == "F":
        conversion = pixels * 9  # 32-bit integers, scaled to 8 bits by a point table, then grey
    elif mode not in _WORKING_MODES:
        conversion = pixels * 4
    else:
        conversion = 0
    sizes = [decoded, *made]
    step = max(4 * (a[0] * a[1] + b[0] * b[1]) for a, b in itertools.pairwise(sizes)) if made else 0
    kept = 4 * made[-1][0] * made[-1][1] * (frame_count - 1) if made else 0
    return source + conversion + step + kept


def check_memory(mode: str, decoded: Size, made: list[Size], frame_count: int, limits: Limits) -> None:
    """Refuse a photo task whose ``memory_needed`` is over ``task_memory_bytes``."""
    needed = memory_needed(mode, decoded, made, frame_count)
    if needed > limits.task_memory_bytes:
        mib = 1024 * 1024
        raise LimitExceeded(
            "task_memory_limit",
            f"the task would need about {needed // mib:,} MiB ({decoded[0]}×{decoded[1]} pixels of mode {mode} "
            f"at {bytes_per_pixel(mode)} bytes each, and the images made from them), over the limit of "
            f"{limits.task_memory_bytes // mib:,} MiB (TaskMemoryMiB)",
        )


# ---------------------------------------------------------------- colour and modes


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def srgb_profile_bytes() -> bytes:
    """The sRGB ICC profile embedded in results that keep metadata after conversion."""
    return _srgb().tobytes()


def icc_colour_space(icc: bytes | None) -> str | None:
    """The data colour space of an ICC profile ("RGB", "CMYK", "GRAY" …), from its header."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20].decode("ascii", "replace").strip()


def _load_profile(icc: bytes | None) -> ImageCms.ImageCmsProfile | None:
    """The embedded profile, or None when there is none or it is unreadable (then ignored)."""
    if not icc:
        return None
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError):
        return None


def to_srgb(image: Image.Image, profile: ImageCms.ImageCmsProfile | None, space: str | None) -> Image.Image:
    """``image`` converted to sRGB: CMYK to RGB (with its ICC profile when it
    has a CMYK one), RGB pixels described by an RGB profile converted with it.
    A grey or mismatched profile is ignored: the pixels are left as they are."""
    if image.mode == "CMYK":
        if profile is not None and space == "CMYK":
            try:
                return _profile_to_srgb(image, profile, "RGB")
            except ImageCms.PyCMSError:
                pass
        return image.convert("RGB")
    if profile is not None and space == "RGB" and image.mode in ("RGB", "RGBA"):
        try:
            return _profile_to_srgb(image, profile, image.mode)
        except ImageCms.PyCMSError:
            return image
    return image


def _profile_to_srgb(image: Image.Image, profile: ImageCms.ImageCmsProfile, mode: str) -> Image.Image:
    converted = ImageCms.profileToProfile(image, profile, _srgb(), outputMode=mode)
    assert converted is not None  # only None when converting in place
    return converted


def working_mode(image: Image.Image) -> Image.Image:
    """``image`` in a mode every function handles: L, LA, RGB or RGBA (CMYK is
    left as it is: it only remains when the source's colour space is kept)."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode == "La":
        return image.convert("LA")
    if mode.startswith("I") or mode == "F":
        # 16-bit grey: Pillow's convert("L") clips instead of scaling.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


# ---------------------------------------------------------------- resizing

_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}
_STRIP_ROWS = 256


def reduce_strips(strips: Iterable[Image.Image], size: Size, factor: tuple[int, int]) -> Image.Image:
    """The image of ``size`` that ``strips`` make up (top to bottom, each a whole
    number of ``factor`` rows but the last, all of one mode), reduced by whole
    blocks of ``factor`` pixels (``Image.reduce``) one strip at a time. An image
    with alpha comes out premultiplied (RGBa, La), as it must be resized."""
    factor_x, factor_y = factor
    reduced: Image.Image | None = None
    top = 0
    for strip in strips:
        mode = _PREMULTIPLIED.get(strip.mode, strip.mode)
        if reduced is None:
            reduced = Image.new(mode, (-(-size[0] // factor_x), -(-size[1] // factor_y)))
        reduced.paste((strip if strip.mode == mode else strip.convert(mode)).reduce(factor), (0, top // factor_y))
        top += strip.height
    assert reduced is not None  # the strips cover the image
    return reduced


def downscale(image: Image.Image, size: Size, resample: Image.Resampling, box: Box) -> Image.Image:
    """``box`` of ``image`` resized to ``size``: ``Image.resize`` with ``REDUCING_GAP``.

    An image with alpha must be resized premultiplied (else the colours of
    transparent pixels bleed into the edges), and Pillow premultiplies a whole
    copy first. Here the copy is made strip by strip, each strip reduced at
    once: the same pixels, without holding a second full-size image (48 MB for
    12 MP).
    """
    factor_x = int((box[2] - box[0]) / size[0] / REDUCING_GAP) or 1
    factor_y = int((box[3] - box[1]) / size[1] / REDUCING_GAP) or 1
    if factor_x == factor_y == 1 or resample == Image.Resampling.NEAREST:
        return resample_in_bands(image, size, resample, box)
    if image.mode not in _PREMULTIPLIED:
        return image.resize(size, resample, box=box, reducing_gap=REDUCING_GAP)
    width, height = image.size
    rows = factor_y * max(1, _STRIP_ROWS // factor_y)  # whole blocks of the reduction
    strips = (image.crop((0, top, width, min(top + rows, height))) for top in range(0, height, rows))
    reduced = reduce_strips(strips, image.size, (factor_x, factor_y))
    scaled: Box = (box[0] / factor_x, box[1] / factor_y, box[2] / factor_x, box[3] / factor_y)
    return resample_in_bands(reduced, size, resample, scaled).convert(image.mode)


# Below this many source pixels, a second thread costs more than it saves.
_BANDED_PIXELS = 1_000_000


def resample_in_bands(image: Image.Image, size: Size, resample: Image.Resampling, box: Box) -> Image.Image:
    """``box`` of ``image`` resampled to ``size`` (``Image.resize``, no reduction first), the
    bottom half of the rows on a second thread: Pillow resamples without the GIL, and each
    half is the resize of its own part of ``box`` to its rows (the filter still reads the
    source beyond it), so the result is the whole resize's, within one level of rounding.
    An image with alpha comes out as it went in (premultiplied when it was)."""
    if (box[2] - box[0]) * (box[3] - box[1]) < _BANDED_PIXELS or size[1] < 2 or image.mode in _PREMULTIPLIED:
        return image.resize(size, resample, box=box)
    top_rows = size[1] // 2
    split = box[1] + top_rows * (box[3] - box[1]) / size[1]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="resample") as pool:
        bottom = pool.submit(image.resize, (size[0], size[1] - top_rows), resample, (box[0], split, box[2], box[3]))
        top = image.resize((size[0], top_rows), resample, box=(box[0], box[1], box[2], split))
        result = Image.new(image.mode, size)
        result.paste(top, (0, 0))
        result.paste(bottom.result(), (0, top_rows))
    return result


def flatten(image: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """``image`` without alpha, composed onto ``background`` (LA gives L, RGBA gives RGB)."""
    opaque_mode = "L" if image.mode == "LA" else "RGB"
    base = Image.new(opaque_mode, image.size, background if opaque_mode == "RGB" else background[0])
    base.paste(image.convert(opaque_mode), mask=image.getchannel("A"))
    return base


def for_format(image: Image.Image, fmt: OutputFormat) -> Image.Image:
    """``image`` in a mode ``fmt`` can write: alpha flattened on white where the
    format has none (JPEG), grey widened to RGB where it has no grey (WebP, AVIF)."""
    if image.mode in fmt.modes:
        return image
    has_alpha = image.mode in ("LA", "RGBA")
    if has_alpha and "RGBA" not in fmt.modes:
        return for_format(flatten(image), fmt)
    return image.convert("RGBA" if has_alpha else "RGB")


# ---------------------------------------------------------------- metadata


@dataclass(frozen=True)
class Metadata:
    """Metadata to write into a result (all None: stripped)."""

    exif: bytes | None = None
    icc_profile: bytes | None = None
    xmp: bytes | None = None
    comment: bytes | None = None


_XMP_ORIENTATION = (
    re.compile(rb'\s*tiff:Orientation="[0-9]"'),
    re.compile(rb"<tiff:Orientation>[0-9]</tiff:Orientation>"),
)


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value or None
    if isinstance(value, str):
        return value.encode() or None
    return None


def source_metadata(image: Image.Image, *, upright: bool) -> Metadata:
    """EXIF, XMP and comment of the source; with ``upright`` the orientation is
    reset to 1 (the pixels have been turned). The ICC profile is decided apart."""
    with _decoding(image.format or "source"):
        source_exif = image.getexif()
        exif = Image.Exif()  # a copy: the image's own still says how to turn it
        if len(source_exif):
            exif.load(source_exif.tobytes())
    if upright and ExifTags.Base.Orientation in exif:
        exif[ExifTags.Base.Orientation] = 1
    xmp = _as_bytes(image.info.get("xmp"))
    if upright and xmp:
        for pattern in _XMP_ORIENTATION:
            xmp = pattern.sub(b"", xmp)
    return Metadata(exif=exif.tobytes() if len(exif) else None, xmp=xmp, comment=_as_bytes(image.info.get("comment")))


def metadata_options(metadata: Metadata, fmt: OutputFormat, mode: str) -> dict[str, Any]:
    """``Image.save`` keywords that write ``metadata`` in ``fmt``: what the format
    cannot carry is dropped, and so is an ICC profile of another colour space
    than the result's (e.g. an RGB profile on a grayscale result)."""
    values: dict[str, bytes | None] = {
        "exif": metadata.exif,
        "icc_profile": metadata.icc_profile if _icc_fits(metadata.icc_profile, mode) else None,
        "xmp": metadata.xmp,
        "comment": metadata.comment,
    }
    options: dict[str, Any] = {key: value for key, value in values.items() if value and key in fmt.metadata}
    if fmt.name == "TIFF" and "exif" in options:
        options["exif"] = _main_exif_tags(options["exif"])
    if fmt.name == "PNG" and "xmp" in options:
        # Pillow writes PNG's XMP only as an iTXt chunk given explicitly.
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", options.pop("xmp").decode("utf-8", "replace"))
        options["pnginfo"] = info
    return options


def _main_exif_tags(data: bytes) -> bytes:
    """EXIF without its sub-directories (Exif, GPS, interoperability): libtiff
    cannot write them in a compressed TIFF, whose own tags EXIF's main ones are."""
    exif = Image.Exif()
    exif.load(data)
    for pointer in ExifTags.IFD:
        exif.pop(pointer, None)
    return exif.tobytes()


def _icc_fits(icc: bytes | None, mode: str) -> bool:
    expected = {"L": "GRAY", "LA": "GRAY", "CMYK": "CMYK"}.get(mode, "RGB")
    return icc_colour_space(icc) == expected


# ---------------------------------------------------------------- encoding


@dataclass
class Frames:
    """The transformed frames of a result and how to play them."""

    images: list[Image.Image] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    """Milliseconds each frame is shown."""
    loop: int | None = None


def encode(frames: Frames, fmt: OutputFormat, options: dict[str, Any], metadata: Metadata) -> bytes:
    """The bytes of ``frames`` written in ``fmt`` (an animation when there are several)."""
    images = [for_format(image, fmt) for image in frames.images]
    for image in images:
        # Some plugins write metadata (comment, ICC) found in ``info``: only ours goes out.
        image.info = {}
    params = {**options, **metadata_options(metadata, fmt, images[0].mode)}
    if len(images) > 1:
        params.update(save_all=True, append_images=images[1:], duration=frames.durations)
        if frames.loop is not None:
            params["loop"] = frames.loop
        elif fmt.name != "GIF":  # no loop in a GIF means play once; elsewhere loop=1 does
            params["loop"] = 1
    buffer = io.BytesIO()
    try:
        images[0].save(buffer, fmt.name, **params)
    except (MemoryError, PixelmillError):
        raise
    except Exception as error:  # an encoder refusing its input will refuse it again on retry
        reason = readable(error, "the encoder refused the image")
        raise ProcessingError(
            f"the result could not be written as {fmt.name}: {reason}", code="encode_failed"
        ) from None
    return buffer.getvalue()


# ---------------------------------------------------------------- the base class


class PhotoFunction(PhotoArgs, ImageFunction):
    """Base of the Pillow functions: the decode/encode pipeline around ``apply``.

    Subclasses (each also subclassing its arguments in ``pixelmill.catalog``)
    override ``apply``, and ``apply_to_reduced`` when they can work on a JPEG
    decoded reduced (see ``PhotoArgs.draft_size``).
    """

    def apply(self, image: Image.Image) -> Image.Image:
        """The operation on one upright sRGB frame (mode L, LA, RGB or RGBA; CMYK
        only when ``to_srgb`` is false). Must return a new image or ``image``."""
        return image

    def apply_to_reduced(self, image: Image.Image, full_size: Size) -> Image.Image:
        """The operation on a frame decoded reduced (JPEG shrink-on-load, asked
        for by ``draft_size``) from an upright original of ``full_size``.

        Functions that ask for a draft compute their geometry from
        ``full_size`` here, so that the result does not depend on the decode
        scale (see ``scale_box``). The default is ``apply``.
        """
        return self.apply(image)

    # ------------------------------------------------------------ the pipeline

    def run(self, source: bytes, limits: Limits, progress: Progress = no_progress) -> Rendered:
        """Decode ``source`` within ``limits``, apply this function to every
        frame and encode the result (see the module's docstring).

        Reports progress 10 once decoded, up to 60 as frames are transformed,
        100 once encoded.
        """
        with _pillow_limits(limits):
            image = open_image(source, limits)
            with image:
                return self._render(source, image, limits, progress)

    def _render(self, source: bytes, image: ImageFile.ImageFile, limits: Limits, progress: Progress) -> Rendered:
        source_format = image.format or "source"
        orientation = exif_orientation(image) if self.auto_orient else 1
        full_size = oriented_size(image.size, orientation)
        fmt = OUTPUT_FORMATS[self.output_format(source_format)]
        frame_count = animation_frames(image) if fmt.animation else 1
        made = self.step_sizes(full_size)
        for size in made[:-1]:
            check_pixels(size, frame_count, limits, "an intermediate image")
        self._check_output(made[-1], frame_count, fmt, limits)

        icc = _as_bytes(image.info.get("icc_profile"))
        metadata = self._metadata(image, icc)
        profile = _load_profile(icc) if self.to_srgb else None
        png_factor = self._png_reduction(source, image, full_size, orientation)
        reduced = png_factor > 1 or self._shrink_on_load(image, full_size, orientation)
        # After shrink-on-load: what is decoded is what costs (draft sets the size and mode).
        decoded = oriented_size(image.size, orientation)
        check_work(made, frame_count, limits, decoded)
        if png_factor > 1:  # held: the reduced image (4 bytes a pixel) and two strips (one inflating ahead)
            held = (-(-decoded[0] // png_factor), -(-decoded[1] // png_factor))
            check_memory("RGBA", held, made, frame_count, limits)
        else:
            check_memory(image.mode, decoded, made, frame_count, limits)
        frames = Frames(loop=image.info.get("loop"))
        reported = 0
        for index in range(frame_count):
            if png_factor > 1:
                frame = self._decode_png_reduced(source, image, png_factor)
            else:
                frame = self._decode_frame(image, index, frame_count)
            if index == 0:
                progress(10)
                reported = 10
            frame = self._prepare(frame, profile, icc_colour_space(icc))
            frames.images.append(self.apply_to_reduced(frame, full_size) if reduced else self.apply(frame))
            frames.durations.append(round(image.info.get("duration") or 100))
            percent = 10 + 50 * (index + 1) // frame_count
            if percent - reported >= 10 or index + 1 == frame_count:  # a report may cost a database write
                progress(percent)
                reported = percent

        data = encode(frames, fmt, self.save_options(fmt.name), metadata)
        progress(100)
        width, height = frames.images[0].size
        return Rendered(
            data,
            fmt.content_type,
            fmt.extension,
            {"width": width, "height": height, "frames": len(frames.images)},
        )

    @staticmethod
    def _check_output(size: Size, frame_count: int, fmt: OutputFormat, limits: Limits) -> None:
        """Refuse, before decoding, a result over the output limits or too large for its format."""
        check_pixels(size, frame_count, limits, "the result")
        width, height = size
        if max(size) > fmt.max_side:
            raise ImageTooLarge(
                f"the result would be {width}×{height} pixels; {fmt.name} images are at most {fmt.max_side} pixels wide and high"
            )

    def _metadata(self, image: Image.Image, icc: bytes | None) -> Metadata:
        """What of the source's metadata goes into the result."""
        space = icc_colour_space(icc)
        if not self.to_srgb:
            kept_icc = icc  # the pixels keep their colour space: they need its profile
        elif space in ("RGB", "CMYK"):
            kept_icc = srgb_profile_bytes() if self.keep_metadata else None  # the pixels are now sRGB
        else:
            kept_icc = icc if self.keep_metadata else None  # e.g. a grey profile, left as it is
        if not self.keep_metadata:
            return Metadata(icc_profile=kept_icc)
        kept = source_metadata(image, upright=self.auto_orient)
        return Metadata(exif=kept.exif, icc_profile=kept_icc, xmp=kept.xmp, comment=kept.comment)

    def _shrink_on_load(self, image: ImageFile.ImageFile, full_size: Size, orientation: int) -> bool:
        """Ask the JPEG decoder for a reduced image when ``draft_size`` allows;
        True when the image will be decoded smaller than it is."""
        if image.format not in ("JPEG", "MPO"):
            return False
        wanted = self.draft_size(full_size)
        if wanted is None:
            return False
        stored = oriented_size(wanted, orientation)  # draft works on the stored, not upright, pixels
        before = image.size
        image.draft(None, (max(1, stored[0]), max(1, stored[1])))
        return image.size != before

    def _png_reduction(self, source: bytes, image: ImageFile.ImageFile, full_size: Size, orientation: int) -> int:
        """The factor a PNG is reduced by while it is decoded strip by strip
        (``pixelmill.transforms._png``), when ``draft_size`` allows; else 1.
        Not when the metadata is kept: reading a PNG's EXIF makes Pillow decode
        it whole anyway (it looks for an eXIf chunk after the pixels)."""
        wanted = self.draft_size(full_size)
        if wanted is None or orientation != 1 or self.keep_metadata or not png.streams(source, image):
            return 1
        return png.reduction_factor(image.size, wanted, REDUCING_GAP)

    @staticmethod
    def _decode_png_reduced(source: bytes, image: ImageFile.ImageFile, factor: int) -> Image.Image:
        """The PNG ``image`` reduced by ``factor`` while decoded, in a working mode;
        never whole (see ``reduce_strips``)."""
        with _decoding("PNG"):
            strips = (working_mode(strip) for strip in png.strips(source, image, factor))
            reduced = reduce_strips(strips, image.size, (factor, factor))
        straight = {premultiplied: mode for mode, premultiplied in _PREMULTIPLIED.items()}.get(reduced.mode)
        return reduced.convert(straight) if straight else reduced

    @staticmethod
    def _decode_frame(image: ImageFile.ImageFile, index: int, frame_count: int) -> Image.Image:
        """Frame ``index`` of ``image``, decoded (a copy when there are several frames)."""
        with _decoding(image.format or "source"):
            if index:
                image.seek(index)
            image.load()
            return image.copy() if frame_count > 1 else image

    def _prepare(self, frame: Image.Image, profile: ImageCms.ImageCmsProfile | None, space: str | None) -> Image.Image:
        """``frame`` upright, in sRGB and in a working mode, as the options say."""
        with _decoding("source"):
            if self.auto_orient and frame.getexif().get(ExifTags.Base.Orientation, 1) != 1:
                frame = ImageOps.exif_transpose(frame)
            frame = working_mode(frame)
            if self.to_srgb:
                frame = to_srgb(frame, profile, space)
        return frame
