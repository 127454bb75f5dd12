"""raster_info: describe a raster (CRS, bounds, bands, statistics) as JSON (its implementation; the arguments are ``pixelmill.catalog.raster_info``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelmill.transforms._raster import RasterFunction, crs_name, max_itemsize, plan_windows
from pixelmill.transforms.base import Limits, Progress, Rendered

if TYPE_CHECKING:
    import numpy
    from rasterio.io import DatasetReader
from pixelmill.catalog import raster_info as arguments


def json_number(value: float | None) -> float | int | str | None:
    """A number as JSON can hold it: NaN and infinities (a float raster's nodata) as strings."""
    if value is None:
        return None
    if isinstance(value, int) or (math.isfinite(value) and float(value).is_integer() and abs(value) < 2**53):
        return int(value)
    return float(value) if math.isfinite(value) else str(value)


@dataclass
class BandStatistics:
    """Running statistics of one band (Chan et al.'s parallel mean and variance)."""

    count: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: numpy.ndarray[Any, Any]) -> None:
        """Fold in a window's valid values (a 1-d float64 array)."""
        n = int(values.size)
        if n == 0:
            return
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.count = total
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))

    def summary(self, pixels: int) -> dict[str, Any]:
        """What raster_info shows: null figures when the band has no valid pixel."""
        has_data = self.count > 0
        return {
            "valid_pixels": self.count,
            "invalid_pixels": pixels - self.count,
            "min": json_number(self.minimum) if has_data else None,
            "max": json_number(self.maximum) if has_data else None,
            "mean": self.mean if has_data else None,
            "std": math.sqrt(self.m2 / self.count) if has_data else None,
        }


def describe(source: DatasetReader) -> dict[str, Any]:
    """Everything raster_info tells about ``source`` except statistics."""
    from rasterio.warp import transform_bounds

    left, bottom, right, top = source.bounds
    wgs84 = None
    if source.crs is not None:
        try:
            corners = transform_bounds(source.crs, "EPSG:4326", left, bottom, right, top, densify_pts=21)
        except Exception:  # a CRS PROJ cannot relate to WGS84 (another planet's): no WGS84 bounds
            corners = None
        if corners is not None and all(math.isfinite(value) for value in corners):
            wgs84 = dict(zip(("west", "south", "east", "north"), corners, strict=True))
    profile = source.profile
    return {
        "driver": source.driver,
        "width": source.width,
        "height": source.height,
        "count": source.count,
        "dtype": source.dtypes[0],
        "crs": crs_name(source.crs) if source.crs is not None else None,
        "crs_wkt": source.crs.to_wkt() if source.crs is not None else None,
        "units": source.crs.linear_units if source.crs is not None else None,
        "transform": list(source.transform)[:6],
        "resolution": list(source.res),
        "bounds": {"left": left, "bottom": bottom, "right": right, "top": top},
        "bounds_wgs84": wgs84,
        "nodata": json_number(source.nodata),
        "compression": source.compression.value.lower() if source.compression else None,
        "tiled": bool(profile.get("tiled", False)),
        "block_shape": list(source.block_shapes[0]),
        "overviews": source.overviews(1),
        "tags": source.tags(),
        "bands": [
            {
                "band": index,
                "dtype": source.dtypes[index - 1],
                "description": source.descriptions[index - 1],
                "colorinterp": source.colorinterp[index - 1].name,
                "nodata": json_number(source.nodatavals[index - 1]),
                "mask": [flag.name for flag in source.mask_flag_enums[index - 1]],
                "unit": source.units[index - 1] or None,
                "scale": source.scales[index - 1],
                "offset": source.offsets[index - 1],
            }
            for index in source.indexes
        ],
    }


def band_statistics(source: DatasetReader, limits: Limits, progress: Progress) -> list[dict[str, Any]]:
    """Exact statistics of every band over its valid pixels (not nodata, not
    masked, finite), read window by window within the working memory."""
    import numpy

    stats = [BandStatistics() for _ in source.indexes]
    # Per pixel: every band's value and mask as read, then for one band at a time a few float64
    # temporaries (the valid values, their finite subset, deviations and their squares).
    per_pixel = source.count * (max_itemsize(source.dtypes) + 1) + 5 * 8
    windows = plan_windows(source.height, source.width, per_pixel, limits.raster_memory_bytes)
    for done, window in enumerate(windows, start=1):
        data = source.read(window=window, masked=True)
        for band, running in zip(data, stats, strict=True):
            values = band.compressed().astype(numpy.float64)
            running.add(values[numpy.isfinite(values)])
        progress(100 * done // len(windows))
    return [running.summary(source.width * source.height) for running in stats]


class RasterInfo(arguments.RasterInfo, RasterFunction):
    """Runs ``raster_info``."""

    def render(self, source: DatasetReader, workdir: Path, limits: Limits, progress: Progress) -> Rendered:
        """The description, with statistics computed window by window."""
        document = describe(source)
        if self.statistics:
            for band, stats in zip(document["bands"], band_statistics(source, limits, progress), strict=True):
                band["statistics"] = stats
        progress(100)
        data = json.dumps(document, indent=2, allow_nan=False).encode()
        return Rendered(data, "application/json", "json", document=document)
