"""Real raster files, generated with rasterio, for the tests.

The pixels are a smooth pattern that differs per band (so a warp's
interpolation is meaningful and bands cannot be swapped unnoticed), in any
data type, CRS and band count; a nodata value, an internal mask or an alpha
band can mark a region invalid.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp
from rasterio.io import DatasetReader, MemoryFile
from rasterio.transform import from_bounds
from rasterio.windows import Window

Bounds = tuple[float, float, float, float]

# A 1°×1° square in the Alps (lon 10..11, lat 46..47) in a few CRSs.
ALPS_WGS84: Bounds = (10.0, 46.0, 11.0, 47.0)
ALPS_UTM32: Bounds = (576000.0, 5094000.0, 653000.0, 5207000.0)  # EPSG:32632


def pattern(band: int, rows: slice, cols: slice, dtype: str) -> np.ndarray[Any, Any]:
    """Band ``band`` (1-based) of the test pattern over ``rows`` × ``cols``, in ``dtype``."""
    yy, xx = np.mgrid[rows, cols].astype(np.float64)
    # In [-1.5, 1.5] everywhere, so that any window of it is scaled alike.
    wave = np.sin(xx / 37.0 + band) * np.cos(yy / 23.0 - band) + 0.5 * np.sin((xx + 2 * yy) / 400.0)
    info_max = {"uint8": 250, "uint16": 60000, "int16": 30000}.get(dtype)
    if info_max is None:  # floats: physical-looking values, negatives included
        floats: np.ndarray[Any, Any] = (wave * 100.0 + band).astype(dtype)
        return floats
    low = 0 if dtype.startswith("u") else -info_max
    scaled = (wave + 1.5) / 3.0
    integers: np.ndarray[Any, Any] = (low + scaled * (info_max - low)).clip(low, info_max).astype(dtype)
    return integers


def write_raster(
    path: Path | str,
    width: int,
    height: int,
    *,
    bands: int = 1,
    dtype: str = "uint8",
    crs: str | None = "EPSG:4326",
    bounds: Bounds = ALPS_WGS84,
    nodata: float | None = None,
    invalid: tuple[slice, slice] | None = None,
    mask: bool = False,
    alpha: bool = False,
    descriptions: Sequence[str] | None = None,
    colorinterp: Sequence[ColorInterp] | None = None,
    driver: str = "GTiff",
    **options: Any,
) -> None:
    """Write a raster window by window (any size, little memory).

    ``invalid`` (rows, cols) is a region marked invalid: set to ``nodata``, or
    masked by an internal mask (``mask``), or transparent in an alpha band
    (``alpha``, which adds a last band).
    """
    count = bands + int(alpha)
    profile: dict[str, Any] = {
        "driver": driver,
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
        "crs": crs,
        "transform": from_bounds(*bounds, width, height),
        "nodata": nodata,
    }
    if driver == "GTiff":
        profile.update(tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    profile.update(options)
    # One thread: GDAL's thread pools do not survive a fork, and the worker forks each transform
    # from the process that calls this (pixelmill.logic.isolation).
    with (
        rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_NUM_THREADS="1"),
        rasterio.open(path, "w", **profile) as dataset,
    ):
        if descriptions:
            for index, description in enumerate(descriptions, start=1):
                dataset.set_band_description(index, description)
        if colorinterp:
            dataset.colorinterp = colorinterp
        elif alpha:
            dataset.colorinterp = [*dataset.colorinterp[:-1], ColorInterp.alpha]
        step = 1024
        for row in range(0, height, step):
            rows = slice(row, min(row + step, height))
            window = Window(0, row, width, rows.stop - row)
            data = np.stack([pattern(band, rows, slice(0, width), dtype) for band in range(1, bands + 1)])
            valid = np.ones((rows.stop - row, width), dtype=bool)
            if invalid is not None:
                region = np.zeros((height, width), dtype=bool)[rows]
                r, c = invalid
                region[max(0, (r.start or 0) - row) : max(0, (r.stop or height) - row), c] = True
                valid &= ~region
            if nodata is not None:
                data[:, ~valid] = nodata
            if alpha:
                transparency = np.where(valid, _opaque(dtype), 0).astype(dtype)
                data = np.concatenate([data, transparency[None]])
            dataset.write(data, window=window)
            if mask:
                dataset.write_mask(valid, window=window)


def _opaque(dtype: str) -> int:
    return 255 if dtype == "uint8" else int(np.iinfo(dtype).max) if dtype.startswith(("u", "i")) else 255


def raster_bytes(width: int, height: int, **kwargs: Any) -> bytes:
    """``write_raster`` into memory: the bytes of the file (a GeoTIFF by default)."""
    driver = kwargs.get("driver", "GTiff")
    with MemoryFile(ext={"GTiff": ".tif", "PNG": ".png", "JPEG": ".jpg"}[driver]) as memory:
        write_raster(memory.name, width, height, **kwargs)
        return bytes(memory.read())


@contextmanager
def open_raster_bytes(data: bytes) -> Iterator[DatasetReader]:
    """Open a result held in memory."""
    with MemoryFile(data) as memory, memory.open() as dataset:
        yield dataset


def sentinel2_like_jp2(path: Path, width: int = 1200, height: int = 1000, *, block: int = 512) -> None:
    """A JPEG 2000 like a Sentinel-2 L1C band (smaller): one uint16 band in UTM
    (EPSG:32632), tiled, losslessly compressed, georeferenced by GeoJP2 and
    GMLJP2 boxes, as GDAL's JP2OpenJPEG driver writes it. Like Sentinel-2's, it
    has no nodata of its own (GDAL would keep one only in a side-car file).
    ``path.with_suffix(".tif")`` is the same raster as a GeoTIFF (the driver can
    only copy an existing raster)."""
    geotiff = path.with_suffix(".tif")
    write_raster(geotiff, width, height, dtype="uint16", crs="EPSG:32632", bounds=ALPS_UTM32)
    with rasterio.Env(GDAL_PAM_ENABLED=False):
        rasterio.shutil.copy(
            geotiff, path, driver="JP2OpenJPEG", REVERSIBLE="YES", QUALITY=100, BLOCKXSIZE=block, BLOCKYSIZE=block
        )
