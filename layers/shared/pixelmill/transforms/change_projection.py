"""change_projection: reproject a raster to another coordinate reference system (its implementation; the arguments are ``pixelmill.catalog.change_projection``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pixelmill.transforms._raster import (
    GEOTIFF,
    RasterFunction,
    parse_crs,
    target_grid,
    warp_to_geotiff,
)
from pixelmill.transforms.base import Limits, Progress, RenderedFile

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
from pixelmill.catalog import change_projection as arguments


class ChangeProjection(arguments.ChangeProjection, RasterFunction):
    """Runs ``change_projection``."""

    def render(self, source: DatasetReader, workdir: Path, limits: Limits, progress: Progress) -> RenderedFile:
        """Warp ``source`` window by window into a GeoTIFF in ``workdir``."""
        grid = target_grid(source, parse_crs(self.target_srs), self.resolution)
        path = workdir / "result.tif"
        warp_to_geotiff(
            source, path, grid, resampling=self.resampling, nodata=self.nodata, limits=limits, progress=progress
        )
        return RenderedFile(path, *GEOTIFF, {"width": grid.width, "height": grid.height, "count": source.count})
