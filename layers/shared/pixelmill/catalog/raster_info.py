"""raster_info: describe a raster (CRS, bounds, bands, statistics) as JSON (its arguments; the implementation is ``pixelmill.transforms.raster_info``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from pixelmill.catalog.raster import RasterArgs


class RasterInfo(RasterArgs):
    """Describe a raster as JSON: format, size, CRS, bounds, bands and statistics.

    Bounds are given in the raster's CRS and in WGS84 longitude and latitude
    (west > east when the raster crosses the antimeridian, as in GeoJSON).
    Statistics (min, max, mean, standard deviation, valid and invalid pixel
    counts) are exact, over every valid pixel. The JSON is the task's
    `result` and is also stored as its result file.
    """

    name: ClassVar[str] = "raster_info"
    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"statistics": False}]})

    statistics: bool = Field(default=True, description="Compute per-band statistics over every pixel (reads them all).")
