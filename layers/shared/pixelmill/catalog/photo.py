"""The photo functions' arguments: common options, output formats, sizes.

No Pillow here: the API validates photo arguments and predicts nothing that
needs pixels. ``pixelmill.transforms._photo`` adds the decoding and encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from pixelmill.catalog.base import FunctionArgs
from pixelmill.errors import LimitExceeded

if TYPE_CHECKING:
    from pixelmill.catalog.limits import Limits

Size = tuple[int, int]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class OutputFormat:
    """A format the photo functions write, and how."""

    name: str
    """Pillow's format name."""
    content_type: str
    extension: str
    modes: frozenset[str]
    """Modes written as they are; others are converted (alpha flattened on white if the format has none)."""
    animation: bool
    """Whether the format holds several frames."""
    max_side: int
    """Largest width or height the encoder accepts."""
    metadata: frozenset[str]
    """Metadata the format can carry: exif, icc_profile, xmp, comment."""
    options: dict[str, Any] = field(default_factory=dict)
    """Default ``Image.save`` options: chosen for speed at a good quality (`make bench` measures them)."""


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    fmt.name: fmt
    for fmt in (
        OutputFormat(
            "JPEG",
            "image/jpeg",
            "jpg",
            frozenset({"L", "RGB", "CMYK"}),
            animation=False,
            max_side=65_500,
            metadata=frozenset({"exif", "icc_profile", "xmp", "comment"}),
            options={"quality": 85, "optimize": True},
        ),
        OutputFormat(
            "PNG",
            "image/png",
            "png",
            frozenset({"L", "LA", "RGB", "RGBA"}),
            animation=True,
            max_side=2**31 - 1,
            metadata=frozenset({"exif", "icc_profile", "xmp"}),
            # zlib level 3 writes files the size of libvips' default PNG in about its time;
            # level 6 takes ~3x as long for ~10% less (make bench reports the size).
            options={"compress_level": 3},
        ),
        OutputFormat(
            "WEBP",
            "image/webp",
            "webp",
            frozenset({"RGB", "RGBA"}),
            animation=True,
            max_side=16_383,
            metadata=frozenset({"exif", "icc_profile", "xmp"}),
            # method 0 encodes ~3.4x faster than libwebp's default 4 for a ~6% larger file.
            options={"quality": 80, "method": 0},
        ),
        OutputFormat(
            "AVIF",
            "image/avif",
            "avif",
            frozenset({"RGB", "RGBA"}),
            animation=True,
            # libavif refuses to decode larger images by default.
            max_side=32_768,
            metadata=frozenset({"exif", "icc_profile", "xmp"}),
            # speed 6 takes ~19 CPU-s on 24 MP; 8 is several times faster.
            options={"quality": 60, "speed": 8},
        ),
        OutputFormat(
            "TIFF",
            "image/tiff",
            "tif",
            frozenset({"L", "LA", "RGB", "RGBA", "CMYK"}),
            animation=False,
            max_side=2**31 - 1,
            metadata=frozenset({"exif", "icc_profile"}),
            options={"compression": "tiff_adobe_deflate"},
        ),
        OutputFormat(
            "GIF",
            "image/gif",
            "gif",
            frozenset({"L", "RGB", "RGBA"}),
            animation=True,
            max_side=65_535,
            metadata=frozenset({"comment"}),
        ),
    )
}


def default_output_format(source_format: str) -> str:
    """The format a result is written in unless ``convert`` says otherwise: the
    source's own; JPEG for a phone's HEIC (a lossy photo most viewers cannot
    show) and MPO; PNG for another format we do not write (BMP, JPEG 2000 …)."""
    if source_format in ("MPO", "HEIF"):  # MPO: a JPEG with a second picture (phones' depth maps)
        return "JPEG"
    return source_format if source_format in OUTPUT_FORMATS else "PNG"


# ---------------------------------------------------------------- work bounds


def check_pixels(size: Size, frame_count: int, limits: Limits, what: str) -> None:
    """Refuse ``what`` (the result, or an image made on the way) over ``max_output_pixels``."""
    width, height = size
    if width * height * frame_count > limits.max_output_pixels:
        frames = f" × {frame_count} frames" if frame_count > 1 else ""
        raise LimitExceeded(
            "output_pixels_limit",
            f"{what} would be {width}×{height} pixels{frames}, over the limit of {limits.max_output_pixels:,} "
            "(MaxOutputPixels)",
        )


def check_work(made: list[Size], frame_count: int, limits: Limits, source: Size | None = None) -> None:
    """Refuse a task whose images (the decoded ``source`` when known, then every image
    in ``made``) add up to more than ``max_task_work_pixels`` over its frames."""
    pixels = sum(width * height for width, height in ([source] if source else []) + made) * frame_count
    if pixels > limits.max_task_work_pixels:
        steps = f"{len(made)} images made" if len(made) > 1 else "the result"
        frames = f" × {frame_count} frames" if frame_count > 1 else ""
        raise LimitExceeded(
            "task_work_limit",
            f"the task would make {pixels:,} pixels ({'the source and ' if source else ''}{steps}{frames}), "
            f"over the limit of {limits.max_task_work_pixels:,} per task (MaxTaskWorkPixels)",
        )


def check_radius(function: str, radius: float, size: Size) -> None:
    """Refuse a filter ``radius`` (in pixels) larger than the shorter side of the image it applies to."""
    if radius > min(size):
        raise LimitExceeded(
            "filter_radius_limit",
            f"the {function} radius {radius:g} is larger than the {size[0]}×{size[1]} image it applies to: "
            f"at most its shorter side, {min(size)} pixels",
        )


# ---------------------------------------------------------------- the base class


class PhotoArgs(FunctionArgs):
    """Base of the photo functions' arguments: the common options, and what a
    function's arguments alone decide (sizes, output format) before any pixel.

    Subclasses override ``output_size`` when they change the size,
    ``draft_size`` when a JPEG may be decoded reduced, and ``output_format``
    and ``save_options`` to choose the result's format.
    """

    kind: ClassVar[str] = "photo"
    usable_in_pipeline: ClassVar[bool] = True
    """Whether ``pipeline`` offers this function as a step."""
    usable_in_urls: ClassVar[bool] = True
    sets_output_format: ClassVar[bool] = False
    """Whether ``output_format`` and ``save_options`` are the function's own choice (``convert``)."""

    auto_orient: bool = Field(
        default=True,
        description="Turn the image upright as its EXIF Orientation says (coordinates then refer to the upright image).",
    )
    to_srgb: bool = Field(
        default=True,
        description=(
            "Convert CMYK images and images with an embedded ICC profile to sRGB. When false the pixels keep "
            "their colour space, and its ICC profile is kept in the result, which needs it to show them right."
        ),
    )
    keep_metadata: bool = Field(
        default=False,
        description=(
            "Keep the source's EXIF (with the orientation reset when the image was turned upright), XMP, comment "
            "and ICC profile, as far as the output format can carry them. By default they are stripped."
        ),
    )

    # ------------------------------------------------------------ hooks

    def output_size(self, size: Size) -> Size:
        """The size of the result for an upright source of ``size``, predicted
        before decoding to enforce ``max_output_pixels`` (default: the same).
        May raise ProcessingError when the arguments cannot fit the image."""
        return size

    def step_sizes(self, size: Size) -> list[Size]:
        """The size of every image this function makes from an upright source of
        ``size``, in order, the result last (a pipeline makes one per step); all
        are held to the work bounds. May raise ProcessingError when the arguments
        cannot fit the image (``check_size``)."""
        self.check_size(size)
        return [self.output_size(size)]

    def check_size(self, size: Size) -> None:
        """Refuse arguments out of proportion with an image of ``size`` (a filter
        radius larger than the image) with LimitExceeded (default: none)."""

    def fixed_size(self) -> Size | None:
        """The result's size when the arguments alone decide it, whatever the
        source (default: None, it depends on the source)."""
        return None

    def sizes_from_arguments(self) -> list[Size]:
        """The sizes of the images this function makes that its arguments alone decide."""
        fixed = self.fixed_size()
        return [fixed] if fixed is not None else []

    def check_arguments(self, limits: Limits) -> None:
        """Refuse, before any source is seen, results and work over the bounds that
        the arguments alone decide (a resize to a fixed box, a crop, a pipeline's
        steps from there on)."""
        made = self.sizes_from_arguments()
        if not made:
            return
        for size in made[:-1]:
            check_pixels(size, 1, limits, "an intermediate image")
        check_pixels(made[-1], 1, limits, "the result")
        check_work(made, 1, limits)

    def draft_size(self, size: Size) -> Size | None:
        """The smallest size an upright source of ``size`` may be decoded at
        without losing quality in the result (JPEG shrink-on-load), or None to
        decode it whole (default)."""
        return None

    def output_format(self, source_format: str) -> str:
        """Pillow's name of the format to write, given the source's."""
        return default_output_format(source_format)

    def save_options(self, fmt: str) -> dict[str, Any]:
        """``Image.save`` options for writing ``fmt``."""
        return dict(OUTPUT_FORMATS[fmt].options)
