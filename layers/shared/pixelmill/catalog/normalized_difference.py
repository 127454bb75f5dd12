"""normalized_difference: (a − b) / (a + b) of two bands, e.g. NDVI or NDWI (its arguments; the implementation is ``pixelmill.transforms.normalized_difference``)."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from pixelmill.catalog.raster import (
    RasterArgs,
)


class NormalizedDifference(RasterArgs):
    """The normalized difference of two bands, (a − b) / (a + b), as a float32 raster.

    NDVI is `band_a` = near infrared, `band_b` = red; NDWI is green and near
    infrared. Bands are numbered from 1. Where either band has no data
    (nodata or masked), or a + b is 0, the result is `nodata`. CRS and
    geotransform are the source's.
    """

    name: ClassVar[str] = "normalized_difference"
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"band_a": 4, "band_b": 3}, {"band_a": 2, "band_b": 4, "nodata": -2}]}
    )

    band_a: int = Field(ge=1, le=65535, description="Band a, numbered from 1 (near infrared for NDVI).", examples=[4])
    band_b: int = Field(ge=1, le=65535, description="Band b, numbered from 1 (red for NDVI).", examples=[3])
    nodata: float = Field(
        default=-9999.0,
        allow_inf_nan=False,
        description="Value of pixels without a result; outside the result's range of -1..1.",
    )

    @model_validator(mode="after")
    def _two_bands(self) -> Self:
        if self.band_a == self.band_b:
            raise ValueError("band_a and band_b must be different bands")
        if -1 <= self.nodata <= 1:
            raise ValueError("nodata must be outside -1..1, where results lie")
        return self
