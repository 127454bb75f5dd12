"""resample: change a raster's resolution, keeping its CRS and extent (its arguments; the implementation is ``pixelmill.transforms.resample``)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from pixelmill.catalog.raster import (
    RESAMPLING_DESCRIPTION,
    RasterArgs,
    ResamplingName,
    Resolution,
)


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
