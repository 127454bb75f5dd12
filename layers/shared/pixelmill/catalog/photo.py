"""The photo functions' arguments: common options, output formats, sizes.

No Pillow here: the API validates photo arguments and predicts nothing that
needs pixels. ``pixelmill.transforms._photo`` adds the decoding and encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field

from pixelmill.catalog.base import FunctionArgs

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

    def intermediate_sizes(self, size: Size) -> list[Size]:
        """Sizes of images made on the way to the result (a pipeline's steps),
        held to ``max_output_pixels`` like the result itself (default: none)."""
        return []

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
