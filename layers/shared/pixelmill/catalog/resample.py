"""resample: change a raster's resolution, keeping its CRS and extent (its arguments; the implementation is ``pixelmill.transforms.resample``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from pixelmill.catalog.raster import (
    RESAMPLING_DESCRIPTION,
    RasterArgs,
    ResamplingName,
    Resolution,
)
from pixelmill.errors import LimitExceeded

if TYPE_CHECKING:
    from pixelmill.catalog.limits import Limits


class Resample(RasterArgs):
    """Change a raster's resolution, keeping its CRS and extent.

    Give `scale`, a factor on the number of pixels along each side (0.5
    halves the width and the height, 2 doubles them), or `resolution`, the
    pixel size in the CRS's units (the extent is then rounded to whole
    pixels). Bands, data type, nodata and masks are kept.
    """

    name: ClassVar[str] = "resample"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"scale": 0.5, "resampling": "average"},
                {"resolution": 30, "resampling": "bilinear"},
                {"resolution": [0.001, 0.001]},
            ]
        }
    )

    scale: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = Field(
        default=None, description="Factor on the pixel count along each side: 0.5 halves, 2 doubles."
    )
    resolution: Resolution | None = Field(
        default=None, description="Pixel size in the raster's CRS units: one number, or [x, y].", examples=[30]
    )
    resampling: ResamplingName = Field(default="nearest", description=RESAMPLING_DESCRIPTION)

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.scale is None) == (self.resolution is None):
            raise ValueError("give either scale or resolution")
        return self

    def check_arguments(self, limits: Limits) -> None:
        """Refuse a ``scale`` whose result would outgrow the source more than ``max_raster_growth`` allows."""
        if self.scale is not None and self.scale**2 > limits.max_raster_growth:
            raise LimitExceeded(
                "raster_growth_limit",
                f"scale {self.scale:g} would make {self.scale**2:,.0f} times the source's pixels, over the limit of "
                f"{limits.max_raster_growth} times (MaxRasterGrowth; a scale of at most "
                f"{limits.max_raster_growth**0.5:g})",
            )
