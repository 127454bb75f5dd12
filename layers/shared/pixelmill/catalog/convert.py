"""convert: write a photo in another format (its arguments; the implementation is ``pixelmill.transforms.convert``)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from pixelmill.catalog.photo import OUTPUT_FORMATS, PhotoArgs

FormatName = Literal["jpeg", "png", "webp", "avif", "tiff", "gif"]

LOSSY = frozenset({"jpeg", "webp", "avif"})
"""Formats with a quality setting."""

NOT_LOSSLESS = frozenset({"jpeg", "avif", "gif"})
"""Formats that cannot keep every pixel exact: AVIF through Pillow's encoder
converts to YUV (off by a few levels even at quality 100, 4:4:4), GIF has 256
colours. PNG and TIFF are always lossless; WebP has a lossless mode."""

# Effort, 0 (fastest) and up, per format: WebP's is libwebp's ``method`` (0..6);
# AVIF's maps to libavif's ``speed`` 10 - effort, capped at speed 6 (effort 4):
# slower speeds take tens of CPU-seconds on large photos (speed 6: ~19 CPU-s on 24 MP).
MAX_EFFORT = {"webp": 6, "avif": 4}


class Convert(PhotoArgs):
    """Write a photo in another format: JPEG, PNG, WebP, AVIF, TIFF or GIF.

    Every other function keeps the source's format (BMP and other formats we
    do not write become PNG). Transparency is flattened onto white for JPEG;
    only the first frame of an animation is kept for JPEG and TIFF.
    """

    name: ClassVar[str] = "convert"
    sets_output_format: ClassVar[bool] = True
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"format": "webp"}, {"format": "jpeg", "quality": 90}, {"format": "webp", "lossless": True}]
        }
    )

    format: FormatName = Field(description="Format of the result.", examples=["webp"])
    quality: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Quality of a lossy format (jpeg, webp, avif): higher is better and larger. "
        "Defaults: jpeg 85, webp 80, avif 60.",
        examples=[85],
    )
    lossless: bool = Field(
        default=False, description="Keep every pixel exact: webp's lossless mode; png and tiff always are."
    )
    effort: int | None = Field(
        default=None,
        ge=0,
        le=6,
        description="Encoder effort (webp 0..6, avif 0..4): higher is slower and gives a smaller file. "
        "Default 0 for webp and 2 for avif, chosen for speed.",
        examples=[0],
    )

    @field_validator("quality")
    @classmethod
    def _quality_for_lossy(cls, quality: int | None, info: ValidationInfo) -> int | None:
        fmt = info.data.get("format")
        if quality is not None and fmt is not None and fmt not in LOSSY:
            raise ValueError(f"quality applies to jpeg, webp and avif, not {fmt}")
        return quality

    @field_validator("lossless")
    @classmethod
    def _lossless_where_possible(cls, lossless: bool, info: ValidationInfo) -> bool:
        fmt = info.data.get("format")
        if lossless and fmt in NOT_LOSSLESS:
            raise ValueError(f"{fmt} cannot be lossless: use webp, png or tiff")
        return lossless

    @field_validator("effort")
    @classmethod
    def _effort_in_range(cls, effort: int | None, info: ValidationInfo) -> int | None:
        fmt = info.data.get("format")
        if effort is None or fmt is None:
            return effort
        if fmt not in MAX_EFFORT:
            raise ValueError(f"effort applies to webp and avif, not {fmt}")
        if effort > MAX_EFFORT[fmt]:
            raise ValueError(f"effort for {fmt} is at most {MAX_EFFORT[fmt]}")
        return effort

    @property
    def pillow_format(self) -> str:
        """Pillow's name of the format."""
        return self.format.upper()

    def output_format(self, source_format: str) -> str:
        """The requested format, whatever the source's."""
        return self.pillow_format

    def save_options(self, fmt: str) -> dict[str, Any]:
        """The format's defaults with the requested quality, lossless and effort."""
        options = dict(OUTPUT_FORMATS[fmt].options)
        if self.quality is not None:
            options["quality"] = self.quality
        if self.lossless:
            options["lossless"] = True
        if self.effort is not None and fmt == "WEBP":
            options["method"] = self.effort
        elif self.effort is not None and fmt == "AVIF":
            options["speed"] = 10 - self.effort
        return options
