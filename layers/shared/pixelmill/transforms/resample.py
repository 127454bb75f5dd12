"""resample: change a raster's resolution, keeping its CRS and extent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from pixelmill.errors import LimitExceeded
from pixelmill.transforms import registry
from pixelmill.transforms._raster import (
    GEOTIFF,
    RESAMPLING_DESCRIPTION,
    Grid,
    RasterFunction,
    ResamplingName,
    Resolution,
    north_up_bounds,
    resolution_pair,
    warp_to_geotiff,
)
from pixelmill.transforms.base import Limits, Progress, RenderedFile

if TYPE_CHECKING:
    from rasterio.io import DatasetReader


@registry.register
class Resample(RasterFunction):
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
