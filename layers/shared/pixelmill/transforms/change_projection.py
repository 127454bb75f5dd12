"""change_projection: reproject a raster to another coordinate reference system."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import ConfigDict, Field

from pixelmill.transforms import registry
from pixelmill.transforms._raster import (
    GEOTIFF,
    RESAMPLING_DESCRIPTION,
    CrsText,
    RasterFunction,
    ResamplingName,
    Resolution,
    parse_crs,
    target_grid,
    warp_to_geotiff,
)
from pixelmill.transforms.base import Limits, Progress, RenderedFile

if TYPE_CHECKING:
    from rasterio.io import DatasetReader


@registry.register
class ChangeProjection(RasterFunction):
    """Reproject a georeferenced raster to another coordinate reference system.

    `target_srs` is an EPSG code, a WKT or a PROJ string. The result is a
    tiled GeoTIFF covering the whole source, at about its resolution unless
    `resolution` is given, with the source's bands, data type, nodata, band
    descriptions and colour interpretation. Pixels the source does not cover
    are nodata (`nodata`, else the source's), or masked when there is none.
    """

    name: ClassVar[str] = "change_projection"
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

    def render(self, source: DatasetReader, workdir: Path, limits: Limits, progress: Progress) -> RenderedFile:
        """Warp ``source`` window by window into a GeoTIFF in ``workdir``."""
        grid = target_grid(source, parse_crs(self.target_srs), self.resolution)
        path = workdir / "result.tif"
        warp_to_geotiff(
            source, path, grid, resampling=self.resampling, nodata=self.nodata, limits=limits, progress=progress
        )
        return RenderedFile(path, *GEOTIFF, {"width": grid.width, "height": grid.height, "count": source.count})
