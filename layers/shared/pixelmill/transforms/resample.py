"""resample: change a raster's resolution, keeping its CRS and extent (its implementation; the arguments are ``pixelmill.catalog.resample``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pixelmill.transforms._raster import (
    GEOTIFF,
    Grid,
    RasterFunction,
    north_up_bounds,
    resolution_pair,
    warp_to_geotiff,
)
from pixelmill.transforms.base import Limits, Progress, RenderedFile

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
from pixelmill.catalog import resample as arguments


class Resample(arguments.Resample, RasterFunction):
    """Runs ``resample``."""

    def grid(self, source: DatasetReader) -> Grid:
        """The resampled grid: same CRS, same origin, the new pixel size."""
        from affine import Affine

        left, bottom, right, top = north_up_bounds(source)
        if self.resolution is not None:
            x_size, y_size = resolution_pair(self.resolution)
            width = max(1, round((right - left) / x_size))
            height = max(1, round((top - bottom) / y_size))
            return Grid(source.crs, Affine(x_size, 0.0, left, 0.0, -y_size, top), width, height)
        assert self.scale is not None
        width = max(1, round(source.width * self.scale))
        height = max(1, round(source.height * self.scale))
        # The exact extent: the pixel size follows the rounded pixel counts.
        transform = source.transform @ Affine.scale(source.width / width, source.height / height)
        return Grid(source.crs, transform, width, height)

    def render(self, source: DatasetReader, workdir: Path, limits: Limits, progress: Progress) -> RenderedFile:
        """Warp ``source`` onto its resampled grid, window by window."""
        grid = self.grid(source)
        path = workdir / "result.tif"
        warp_to_geotiff(source, path, grid, resampling=self.resampling, nodata=None, limits=limits, progress=progress)
        return RenderedFile(path, *GEOTIFF, {"width": grid.width, "height": grid.height, "count": source.count})
