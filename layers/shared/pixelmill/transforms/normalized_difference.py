"""normalized_difference: (a − b) / (a + b) of two bands, e.g. NDVI or NDWI (its implementation; the arguments are ``pixelmill.catalog.normalized_difference``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pixelmill.errors import ProcessingError
from pixelmill.transforms._raster import (
    GEOTIFF,
    RasterFunction,
    check_pixels,
    geotiff_profile,
    plan_windows,
)
from pixelmill.transforms.base import Limits, Progress, RenderedFile

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
from pixelmill.catalog import normalized_difference as arguments

# Per pixel of a window: both bands and their masks as read, both in float64, the float32 result.
_BYTES_PER_PIXEL = 2 * (8 + 1) + 2 * 8 + 4


class NormalizedDifference(arguments.NormalizedDifference, RasterFunction):
    """Runs ``normalized_difference``."""

    def render(self, source: DatasetReader, workdir: Path, limits: Limits, progress: Progress) -> RenderedFile:
        """Compute the result window by window into a float32 GeoTIFF."""
        import numpy
        import rasterio

        for band in (self.band_a, self.band_b):
            if band > source.count:
                raise ProcessingError(
                    f"band {band} does not exist: the raster has {source.count} band(s)", code="invalid_band"
                )
        check_pixels(source.width, source.height, 1, limits, "the result")
        profile = geotiff_profile(
            width=source.width,
            height=source.height,
            count=1,
            dtype="float32",
            crs=source.crs,
            transform=source.transform,
            nodata=self.nodata,
        )
        path = workdir / "result.tif"
        windows = plan_windows(source.height, source.width, _BYTES_PER_PIXEL, limits.raster_memory_bytes)
        with rasterio.open(path, "w", **profile) as destination:
            destination.set_band_description(
                1, f"(b{self.band_a} - b{self.band_b}) / (b{self.band_a} + b{self.band_b})"
            )
            for done, window in enumerate(windows, start=1):
                a = source.read(self.band_a, window=window, masked=True).astype(numpy.float64)
                b = source.read(self.band_b, window=window, masked=True).astype(numpy.float64)
                total = a + b
                with numpy.errstate(divide="ignore", invalid="ignore"):
                    ratio = (a - b) / total
                valid = ~numpy.ma.getmaskarray(ratio) & (total.filled(0) != 0) & numpy.isfinite(ratio.filled(0))
                result = numpy.where(valid, ratio.filled(0), self.nodata).astype(numpy.float32)
                destination.write(result, 1, window=window)
                progress(100 * done // len(windows))
        return RenderedFile(path, *GEOTIFF, {"width": source.width, "height": source.height, "count": 1})
