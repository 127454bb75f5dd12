"""change_projection: reproject a raster to another coordinate reference system (its arguments; the implementation is ``pixelmill.transforms.change_projection``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from pixelmill.catalog.raster import (
    RESAMPLING_DESCRIPTION,
    CrsText,
    RasterArgs,
    ResamplingName,
    Resolution,
)


class ChangeProjection(RasterArgs):
    """Reproject a georeferenced raster to another coordinate reference system.

    `target_srs` is an EPSG code, a WKT or a PROJ string. The result is a
    tiled GeoTIFF covering the whole source, at about its resolution unless
    `resolution` is given, with the source's bands, data type, nodata, band
    descriptions and colour interpretation. Pixels the source does not cover
    are nodata (`nodata`, else the source's), or masked when there is none.
    """

    name: ClassVar[str] = "change_projection"
    crs_arguments: ClassVar[tuple[str, ...]] = ("target_srs",)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"target_srs": "EPSG:3857"},
                {"target_srs": "EPSG:32633", "resampling": "bilinear", "resolution": 10},
                {"target_srs": "+proj=laea +lat_0=52 +lon_0=10 +datum=WGS84", "nodata": 0},
            ]
        }
    )

    target_srs: CrsText
    resampling: ResamplingName = Field(default="nearest", description=RESAMPLING_DESCRIPTION)
    resolution: Resolution | None = Field(
        default=None,
        description="Pixel size in the target CRS's units: one number, or [x, y]. Default: about the source's.",
        examples=[10, [10, 10]],
    )
    nodata: float | None = Field(
        default=None,
        description=(
            "Value of the result's pixels that have no data (outside the source, or nodata there). "
            "Default: the source's nodata; without one, such pixels are marked by an internal mask."
        ),
    )
