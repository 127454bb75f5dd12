"""resize: scale a photo to a width, a height or into a box (its arguments; the implementation is ``pixelmill.transforms.resize``)."""

from __future__ import annotations

import math
from typing import ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from pixelmill.catalog.photo import Box, PhotoArgs, Size

Fit = Literal["inside", "contain", "outside", "cover", "fill"]
ResampleName = Literal["lanczos", "bicubic", "bilinear", "nearest"]

MAX_SIDE = 20_000


class Resize(PhotoArgs):
    """Scale a photo to a width, a height, or into a box of both.

    `fit` says how the image meets a box: `inside` (default, alias `contain`)
    fits within it keeping the aspect ratio; `outside` covers it keeping the
    aspect ratio; `cover` covers it and crops the overflow, centred; `fill`
    stretches to exactly the box. With only one of width and height the other
    follows the aspect ratio. Images are not enlarged unless `upscale` is true.
    """

    name: ClassVar[str] = "resize"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"width": 800},
                {"width": 400, "height": 400, "fit": "cover"},
                {"height": 2000, "upscale": True},
            ]
        }
    )

    width: int | None = Field(default=None, ge=1, le=MAX_SIDE, description="Target width in pixels.", examples=[800])
    height: int | None = Field(default=None, ge=1, le=MAX_SIDE, description="Target height in pixels.", examples=[600])
    fit: Fit = Field(
        default="inside",
        description=(
            "inside/contain: within the box, aspect ratio kept; outside: covering the box, aspect ratio kept; "
            "cover: covering the box then cropped to it, centred; fill: exactly the box, aspect ratio ignored."
        ),
    )
    upscale: bool = Field(default=False, description="Allow the result to be larger than the source.")
    resample: ResampleName = Field(default="lanczos", description="Resampling filter.")

    @model_validator(mode="after")
    def _needs_a_dimension(self) -> Self:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self

    def plan(self, size: Size) -> tuple[Size, Box]:
        """For a source of ``size``: the result's size and the region of the
        source (in its coordinates) that is scaled into it."""
        width, height = size
        whole: Box = (0, 0, width, height)
        scales = [target / side for target, side in ((self.width, width), (self.height, height)) if target]
        if self.fit == "fill":
            # A missing side follows the aspect ratio; each side is capped at the source's unless upscaling.
            target = (self.width or round(width * scales[0]), self.height or round(height * scales[0]))
            if not self.upscale:
                target = (min(target[0], width), min(target[1], height))
            return (max(1, target[0]), max(1, target[1])), whole
        scale = min(scales) if self.fit in ("inside", "contain") else max(scales)
        if not self.upscale:
            scale = min(scale, 1.0)
        scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
        if self.fit != "cover":
            return scaled, whole
        # Crop the scaled image to the box (or to itself where it is smaller), centred.
        target = (min(scaled[0], self.width or scaled[0]), min(scaled[1], self.height or scaled[1]))
        region_width, region_height = target[0] / scale, target[1] / scale
        left, top = (width - region_width) / 2, (height - region_height) / 2
        return target, (left, top, left + region_width, top + region_height)

    def fixed_size(self) -> Size | None:
        """The box itself, for ``fill`` and ``cover`` to both a width and a height with ``upscale``."""
        if self.width and self.height and self.upscale and self.fit in ("fill", "cover"):
            return self.width, self.height
        return None

    def output_size(self, size: Size) -> Size:
        """The planned size."""
        return self.plan(size)[0]

    def draft_size(self, size: Size) -> Size | None:
        """The whole source scaled as its planned region is: enough for full quality."""
        target, (left, top, right, bottom) = self.plan(size)
        needed = (math.ceil(size[0] * target[0] / (right - left)), math.ceil(size[1] * target[1] / (bottom - top)))
        return needed if needed[0] < size[0] and needed[1] < size[1] else None
