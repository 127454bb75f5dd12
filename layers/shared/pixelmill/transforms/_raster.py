"""What every raster function shares (rasterio / GDAL).

``RasterFunction.run_file`` is the one path of every raster function:

1. recognise the source by its first bytes and open it with that one GDAL
   driver, from a directory that holds nothing else: only drivers that cannot
   refer to other files are accepted (GeoTIFF and COG, JPEG 2000, PNG, JPEG;
   never VRT and the like, which can point at any path on the host);
2. refuse, before reading pixels, a raster over ``max_raster_pixels`` or one
   stored in blocks larger than the working memory;
3. ``render`` it: functions read, warp and write window by window, so that
   the pixels in memory stay within ``raster_memory_bytes`` whatever the
   raster's size; results are tiled GeoTIFFs written to the work directory.

rasterio is imported inside functions only: the API imports every function
to validate arguments, and ``import rasterio`` costs ~0.3 s of a cold start.
GDAL's own settings (GDAL_CACHEMAX, GDAL_NUM_THREADS,
GDAL_DISABLE_READDIR_ON_OPEN) come from the environment (template.yaml).
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelmill.catalog.crs import check_crs_text, check_proj_parameters, crs_form
from pixelmill.catalog.raster import (
    RESAMPLING_DESCRIPTION,
    CrsText,
    PositiveFloat,
    RasterArgs,
    ResamplingName,
    Resolution,
)
from pixelmill.errors import ImageTooLarge, InvalidRequest, LimitExceeded, ProcessingError, UnsupportedImage
from pixelmill.formats import signature_format
from pixelmill.transforms.base import ImageFunction, Limits, Progress, Rendered, RenderedFile, no_progress

__all__ = [
    "RESAMPLING_DESCRIPTION",
    "CrsText",
    "PositiveFloat",
    "RasterFunction",
    "ResamplingName",
    "Resolution",
    "parse_crs",
]

if TYPE_CHECKING:
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.io import DatasetReader, DatasetWriter
    from rasterio.windows import Window

MIB = 1024 * 1024

# Magic-bytes format (see pixelmill.formats) → the one GDAL driver allowed to open it.
# None of them reads another file: the source sits alone in its directory, GDAL
# looks for no side-car files (.aux.xml, .ovr, .msk; GDAL_DISABLE_READDIR_ON_OPEN)
# and PAM is off, so nothing beside the upload is ever read.
ACCEPTED_DRIVERS = {"TIFF": "GTiff", "PNG": "PNG", "JPEG": "JPEG", "JPEG2000": "JP2OpenJPEG"}
ACCEPTED_DESCRIPTION = "GeoTIFF (COG included), JPEG 2000, PNG or JPEG"
# Open options of a driver. JPEG 2000 (Sentinel-2 bands): georeferencing from the file's own
# GeoJP2 and GMLJP2 boxes only (no PAM or world-file side-car is looked for), and never the
# remote GML a GMLJP2 v2 box may link to.
OPEN_OPTIONS: dict[str, dict[str, str]] = {
    "JP2OpenJPEG": {"GEOREF_SOURCES": "GEOJP2,GMLJP2", "OPEN_REMOTE_GML": "NO"},
}

TILE = 512
"""Block size of the GeoTIFFs we write; windows are whole rows of these tiles."""

GEOTIFF = ("image/tiff", "tif")

# ---------------------------------------------------------------- arguments


def parse_crs(text: str) -> CRS:
    """The CRS of an EPSG (or other authority) code, a WKT or a PROJ string.

    The text is checked against what a CRS may contain before PROJ parses it (as at POST
    time: ``pixelmill.catalog.crs``), and what PROJ resolved it to after: no form that names a
    file or a URL gets through, so no CRS makes PROJ or GDAL open one. Raises ValueError with
    a reason a person can act on.
    """
    import rasterio
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    value = text.strip()
    check_crs_text(value)
    # In rasterio's environment, GDAL's and PROJ's messages go to its logger (ours), not bare to stderr.
    with rasterio.Env():
        try:
            crs = CRS.from_user_input(value)
        except CRSError:  # PROJ's own text is not for users: say which form was not understood
            form = crs_form(value)
            if form == "code":
                raise ValueError(f"{value} is not a CRS PROJ knows (no such code)") from None
            raise ValueError(
                f"not a CRS PROJ knows: the {form} could not be read (check its syntax and names)"
            ) from None
        resolved = crs.to_dict()
    if not (crs.is_geographic or crs.is_projected):
        raise ValueError(f"{crs_name(crs)} is neither geographic nor projected: a raster cannot be put in it")
    if not resolved:
        raise ValueError(f"{crs_name(crs)} has no PROJ string form, so it cannot be checked: give another form")
    check_proj_parameters(resolved)
    return crs


def crs_name(crs: CRS) -> str:
    """``AUTHORITY:CODE`` when the CRS has one, else its WKT."""
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def resolution_pair(resolution: Resolution) -> tuple[float, float]:
    """``(x, y)`` pixel size from one number or a pair."""
    return (resolution, resolution) if isinstance(resolution, float | int) else (resolution[0], resolution[1])


# ---------------------------------------------------------------- GDAL


@contextmanager
def gdal_errors() -> Iterator[None]:
    """Turn GDAL's and PROJ's errors into ours: a code and a message of our own (their
    text names the worker's files and C functions, and is logged, not shown)."""
    from rasterio._err import CPLE_BaseError, CPLE_NotSupportedError, CPLE_OutOfMemoryError
    from rasterio.errors import CRSError, RasterioError

    try:
        yield
    except (CPLE_BaseError, RasterioError) as error:
        causes = {type(error), type(error.__cause__)}
        if CPLE_OutOfMemoryError in causes:
            raise ProcessingError(
                "GDAL ran out of memory on this raster (lower RasterMemoryMiB or GDAL_CACHEMAX)", "out_of_memory"
            ) from error
        if any(issubclass(cause, CPLE_NotSupportedError) for cause in causes):
            raise ProcessingError(
                "the raster uses something GDAL does not support for this function", "unsupported_raster"
            ) from error
        if isinstance(error, CRSError):
            raise ProcessingError(
                "the raster's coordinate reference system is not one PROJ can use", "invalid_crs"
            ) from error
        raise ProcessingError(
            "GDAL could not read or write the raster: its data may be damaged (for instance a truncated tile)",
            "raster_failed",
        ) from error


@contextmanager
def gdal_environment() -> Iterator[None]:
    """rasterio's environment for one task: masks stored inside the GeoTIFFs we write
    (never a .msk side-car) and no .aux.xml written next to the source."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_PAM_ENABLED=False), warnings.catch_warnings():
        # A PNG or JPEG has no georeferencing: raster_info says so, the others refuse it.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def gdal_threads() -> int:
    """Threads GDAL may use, from its own GDAL_NUM_THREADS (a number or ALL_CPUS; default 1).

    GDAL reads it for decoding; rasterio's warper and the GeoTIFF/COG writers
    need it passed explicitly, so this is how they follow the same setting.
    """
    from rasterio.env import get_gdal_config

    value = str(get_gdal_config("GDAL_NUM_THREADS", normalize=False) or "1").strip().upper()
    if value == "ALL_CPUS":
        return os.cpu_count() or 1
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def open_raster(path: Path, limits: Limits) -> DatasetReader:
    """Open the raster at ``path`` with the one accepted driver its bytes announce.

    Raises UnsupportedImage for anything else and ImageTooLarge over the
    limits (see ``check_source``).
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    with path.open("rb") as file:
        head = file.read(64)
    fmt = signature_format(head)
    driver = ACCEPTED_DRIVERS.get(fmt or "")
    if driver is None:
        what = "the file is not a raster" if fmt is None else f"{fmt} files are not accepted as rasters"
        raise UnsupportedImage(f"{what}; raster functions take {ACCEPTED_DESCRIPTION}")
    try:
        dataset: DatasetReader = rasterio.open(path, driver=driver, **OPEN_OPTIONS.get(driver, {}))
    except RasterioIOError:  # GDAL's text names the worker's file: say it in our words
        raise UnsupportedImage(
            f"the {fmt} file could not be opened as a raster: it is damaged or not a {fmt} file GDAL reads"
        ) from None
    try:
        check_source(dataset, limits)
    except BaseException:
        dataset.close()
        raise
    return dataset


def check_source(dataset: DatasetReader, limits: Limits) -> None:
    """Refuse a raster we cannot process within the limits, before reading pixels."""
    if any(dtype.startswith("complex") for dtype in dataset.dtypes):
        raise UnsupportedImage("complex-valued rasters are not supported")
    check_pixels(dataset.width, dataset.height, dataset.count, limits, "the raster")
    from rasterio.enums import Interleaving

    block_height, block_width = dataset.block_shapes[0]
    # Pixel-interleaved blocks hold every band; band-interleaved ones a single band.
    per_block = 1 if dataset.interleaving is Interleaving.band else dataset.count
    block_bytes = block_height * block_width * per_block * max_itemsize(dataset.dtypes)
    # GDAL reads whole blocks: one larger than the budget (a whole-image compressed strip) breaks it.
    if block_bytes > limits.raster_memory_bytes:
        raise ImageTooLarge(
            f"the raster is stored in blocks of {block_width}×{block_height} pixels ({_size(block_bytes)}), "
            f"more than the working memory of {_size(limits.raster_memory_bytes)}: save it tiled "
            "(e.g. as a COG, or gdal_translate -co TILED=YES)"
        )


def _size(count: int) -> str:
    return f"{count / MIB:.0f} MiB" if count >= 10 * MIB else f"{count / 1024:.0f} KiB"


def check_pixels(width: int, height: int, count: int, limits: Limits, what: str) -> None:
    """Refuse ``what`` (a source or a result) over ``max_raster_pixels``."""
    if width * height * count > limits.max_raster_pixels:
        raise ImageTooLarge(
            f"{what} would be {width}×{height} pixels × {count} bands = {width * height * count:,}, "
            f"over the limit of {limits.max_raster_pixels:,} (MaxRasterPixels)"
        )


def check_growth(source: DatasetReader, width: int, height: int, limits: Limits) -> None:
    """Refuse a result of more than ``max_raster_growth`` times the source's pixels (width × height)."""
    source_pixels = source.width * source.height
    if width * height > source_pixels * limits.max_raster_growth:
        raise LimitExceeded(
            "raster_growth_limit",
            f"the result would be {width}×{height} pixels, {width * height / source_pixels:,.0f} times the "
            f"{source.width}×{source.height} source's, over the limit of {limits.max_raster_growth} times "
            "(MaxRasterGrowth)",
        )


def max_itemsize(dtypes: Sequence[str]) -> int:
    """Bytes of the widest of ``dtypes``."""
    import numpy

    return max(numpy.dtype(dtype).itemsize for dtype in dtypes)


def north_up_bounds(dataset: DatasetReader) -> tuple[float, float, float, float]:
    """The dataset's bounds; ProcessingError unless it has a CRS and a north-up geotransform."""
    if dataset.crs is None:
        raise ProcessingError(
            "the raster has no coordinate reference system (not georeferenced)", code="not_georeferenced"
        )
    transform = dataset.transform
    if transform.b != 0 or transform.d != 0:
        raise ProcessingError(
            "rotated or sheared geotransforms are not supported: reproject the raster north-up first",
            code="unsupported_georeferencing",
        )
    left, bottom, right, top = dataset.bounds
    return left, bottom, right, top


def check_nodata(value: float | None, dtype: str) -> None:
    """ProcessingError if ``value`` cannot be stored in ``dtype``."""
    from rasterio.dtypes import in_dtype_range

    if value is not None and not (math.isnan(value) and dtype.startswith("float")) and not in_dtype_range(value, dtype):
        raise ProcessingError(f"nodata {value:g} cannot be stored in a {dtype} raster", code="invalid_nodata")


# ---------------------------------------------------------------- windows


def plan_windows(height: int, width: int, bytes_per_pixel: int, budget: int) -> list[Window]:
    """Windows covering a ``height``×``width`` raster, in rows then columns, each of
    at most ``budget`` bytes at ``bytes_per_pixel`` (but never less than one pixel).

    Windows are as large as the budget allows (fewer, larger GDAL calls are
    faster) and made of whole ``TILE``-sized blocks whenever a block row fits,
    so that each written tile is complete when written.
    """
    from rasterio.windows import Window

    pixels = max(1, budget // max(1, bytes_per_pixel))
    if pixels >= width * min(height, TILE):  # strips the raster's width wide, of whole tile rows
        rows = min(height, pixels // width // TILE * TILE) if height > TILE else height
        cols = width
    else:  # not even one row of tiles fits: blocks of tiles, or smaller
        rows = min(height, TILE, max(1, math.isqrt(pixels)))
        cols = min(width, max(1, pixels // rows))
        if cols >= TILE:
            cols = cols // TILE * TILE
    return [
        Window(col, row, min(cols, width - col), min(rows, height - row))
        for row in range(0, height, rows)
        for col in range(0, width, cols)
    ]


def progress_between(progress: Progress, start: int, end: int) -> Progress:
    """``progress`` for a stage that makes up ``start``..``end`` percent of the whole."""

    def report(percent: int) -> None:
        progress(start + (end - start) * max(0, min(percent, 100)) // 100)

    return report


# ---------------------------------------------------------------- writing GeoTIFFs


def geotiff_profile(
    *,
    width: int,
    height: int,
    count: int,
    dtype: str,
    crs: CRS | None,
    transform: Affine,
    nodata: float | None,
    photometric: str | None = None,
    compress: str = "DEFLATE",
) -> dict[str, Any]:
    """Creation options of a tiled, compressed GeoTIFF (BigTIFF when it needs it)."""
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": compress,
        "bigtiff": "IF_SAFER",
        "num_threads": gdal_threads(),
    }
    if photometric:
        profile["photometric"] = photometric
    return profile


def photometric_of(dataset: DatasetReader) -> str | None:
    """PHOTOMETRIC=RGB for a source whose first three bands are red, green and blue."""
    from rasterio.enums import ColorInterp

    if dataset.count >= 3 and tuple(dataset.colorinterp[:3]) == (ColorInterp.red, ColorInterp.green, ColorInterp.blue):
        return "RGB"
    return None


def has_alpha_band(dataset: DatasetReader) -> bool:
    """Whether a band of ``dataset`` is an alpha band (its validity travels with it)."""
    from rasterio.enums import ColorInterp

    return ColorInterp.alpha in dataset.colorinterp


def copy_description(source: DatasetReader, destination: DatasetWriter, bands: Sequence[int] | None = None) -> None:
    """Give ``destination`` the band descriptions, colour interpretation, colour
    map, scales, offsets, units and tags of ``source`` (its ``bands``, 1-based,
    all by default)."""
    from rasterio.enums import ColorInterp

    chosen = list(bands or source.indexes)
    destination.update_tags(**source.tags())
    for index, band in enumerate(chosen, start=1):
        if source.descriptions[band - 1]:
            destination.set_band_description(index, source.descriptions[band - 1])
        destination.update_tags(index, **source.tags(band))
        if source.units[band - 1]:
            destination.set_band_unit(index, source.units[band - 1])
    destination.scales = [source.scales[band - 1] for band in chosen]
    destination.offsets = [source.offsets[band - 1] for band in chosen]
    destination.colorinterp = [source.colorinterp[band - 1] for band in chosen]
    if source.colorinterp[chosen[0] - 1] is ColorInterp.palette:
        destination.write_colormap(1, source.colormap(chosen[0]))


# ---------------------------------------------------------------- warping


@dataclass(frozen=True)
class Grid:
    """Where a warped raster goes: its CRS, geotransform and size."""

    crs: CRS
    transform: Affine
    width: int
    height: int


def target_grid(source: DatasetReader, crs: CRS, resolution: Resolution | None) -> Grid:
    """GDAL's suggested grid for ``source`` in ``crs`` (as gdalwarp chooses it):
    the source's whole extent at about its resolution, or at ``resolution``.

    Raises ProcessingError for a raster ``crs`` cannot hold in one piece (see
    ``check_reprojectable``).
    """
    from rasterio.warp import calculate_default_transform

    left, bottom, right, top = north_up_bounds(source)
    check_reprojectable(source, crs)
    transform, width, height = calculate_default_transform(
        source.crs,
        crs,
        source.width,
        source.height,
        left,
        bottom,
        right,
        top,
        resolution=resolution_pair(resolution) if resolution else None,
    )
    return Grid(crs, transform, int(width), int(height))


_BOUNDARY_POINTS = 64
"""Points per edge when a raster's outline is followed into another CRS."""


def check_reprojectable(source: DatasetReader, crs: CRS) -> None:
    """ProcessingError when ``crs`` cannot hold ``source`` in one piece.

    Two cases, each with its reason: the raster contains a pole that ``crs``
    sends to infinity (Web Mercator), or its outline crosses the line where the
    x coordinate of ``crs`` wraps around (the antimeridian of a geographic or
    world projection). Rasters around a pole are fine in a geographic CRS
    (they cover every longitude) and in a polar one.
    """
    pole = contained_pole(source)
    if pole is not None:
        if not crs.is_geographic and not _represents_pole(crs, pole):
            where = "North" if pole > 0 else "South"
            raise ProcessingError(
                f"the raster contains the {where} Pole, which {crs_name(crs)} cannot represent (it lies at infinity): "
                "clip the raster away from the pole first, or choose a polar or geographic CRS",
                code="unrepresentable_area",
            )
        return
    xs, _ = _outline_in(source, crs)
    if len(xs) < 2:
        return
    span = max(xs) - min(xs)
    jumps = [abs(b - a) for a, b in zip(xs, [*xs[1:], xs[0]], strict=True)]
    # Along a densely sampled outline neighbours are close; a jump of half the
    # whole width is the outline leaving one side of the map and entering the other.
    if span > 0 and max(jumps) > span / 2:
        raise ProcessingError(
            f"the raster crosses the antimeridian of {crs_name(crs)} (its x coordinates wrap around there), so it "
            "would not be one piece: choose a CRS centred on the raster (e.g. its UTM zone, or +proj=longlat "
            "+lon_0=180 for geographic coordinates), or clip it to one side first",
            code="crosses_antimeridian",
        )


def contained_pole(source: DatasetReader) -> float | None:
    """90 or -90 when the raster's extent contains the North or South Pole, else None."""
    from rasterio.crs import CRS
    from rasterio.warp import transform

    left, bottom, right, top = source.bounds
    for latitude in (90.0, -90.0):
        if source.crs.is_geographic:
            # The pole is the whole top (bottom) edge of a geographic grid.
            if (latitude > 0 and top >= 90.0) or (latitude < 0 and bottom <= -90.0):
                return latitude
            continue
        try:
            (x,), (y,) = transform(CRS.from_epsg(4326), source.crs, [0.0], [latitude])
        except Exception:  # PROJ cannot place the pole in this CRS: it is not inside the raster
            continue
        if math.isfinite(x) and math.isfinite(y) and left <= x <= right and min(bottom, top) <= y <= max(bottom, top):
            return latitude
    return None


def _represents_pole(crs: CRS, latitude: float) -> bool:
    """Whether a projected ``crs`` keeps the pole at a finite place: one thousandth
    of a degree of latitude next to it must stay about 111 m long there."""
    from rasterio.crs import CRS
    from rasterio.warp import transform

    step = 0.001 if latitude > 0 else -0.001
    try:
        xs, ys = transform(CRS.from_epsg(4326), crs, [0.0, 0.0], [latitude - step, latitude - 2 * step])
    except Exception:
        return False
    metres_per_unit = crs.linear_units_factor[1]
    length = math.hypot(xs[1] - xs[0], ys[1] - ys[0]) * metres_per_unit
    return math.isfinite(length) and length < 111.3 * 100


def _outline_in(source: DatasetReader, crs: CRS, n: int = _BOUNDARY_POINTS) -> tuple[list[float], list[float]]:
    """The raster's outline, ``n`` points per edge, in ``crs`` (points PROJ cannot place left out)."""
    from rasterio.warp import transform

    left, bottom, right, top = source.bounds
    xs: list[float] = []
    ys: list[float] = []
    for (x0, y0), (x1, y1) in (
        ((left, top), (right, top)),
        ((right, top), (right, bottom)),
        ((right, bottom), (left, bottom)),
        ((left, bottom), (left, top)),
    ):
        xs.extend(x0 + (x1 - x0) * i / n for i in range(n))
        ys.extend(y0 + (y1 - y0) * i / n for i in range(n))
    try:
        out_x, out_y = transform(source.crs, crs, xs, ys)
    except Exception:
        return [], []
    points = [(x, y) for x, y in zip(out_x, out_y, strict=True) if math.isfinite(x) and math.isfinite(y)]
    return [x for x, _ in points], [y for _, y in points]


def warp_to_geotiff(
    source: DatasetReader,
    path: Path,
    grid: Grid,
    *,
    resampling: str,
    nodata: float | None,
    limits: Limits,
    progress: Progress = no_progress,
    compress: str = "DEFLATE",
    **creation_options: Any,
) -> None:
    """Warp ``source`` onto ``grid`` into a GeoTIFF at ``path``, window by window.

    A WarpedVRT is read in large windows (as fast as an in-memory reproject, where
    512² blocks are 2.6× slower) and each window written at once; GDAL's warper works out the
    source pixels each window needs and splits its own work to stay within its
    share of the budget. The result keeps the source's band count, data type
    and description. Where the result has no source pixels (and where the
    source's nodata, mask or alpha said so) it is invalid: marked with the
    nodata value (``nodata``, else the source's), else by the alpha band,
    else by an internal mask.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.features import geometry_mask
    from rasterio.vrt import WarpedVRT

    count, dtype = source.count, source.dtypes[0]
    check_growth(source, grid.width, grid.height, limits)
    check_pixels(grid.width, grid.height, count, limits, "the result")
    dst_nodata = source.nodata if nodata is None else nodata
    check_nodata(dst_nodata, dtype)
    write_mask = dst_nodata is None and not has_alpha_band(source)
    # The mask of a source valid everywhere is its outline, rasterized per window: asking the
    # warper for it (an alpha band) takes it off its fast paths, about twice as slow.
    footprint = footprint_in(source, grid.crs) if write_mask and not has_dataset_mask(source) else None
    warp_alpha = write_mask and footprint is None

    # A quarter of the budget to the warper's own buffers (GDAL counts them in whole MiB), the rest
    # to the windows we read from it.
    budget = limits.raster_memory_bytes
    warp_mib = max(1, budget // 4 // MIB)
    itemsize = max_itemsize(source.dtypes)
    # Per pixel of a window: its bands, and the mask as made (alpha band or rasterized outline) and written.
    per_pixel = (count + int(warp_alpha)) * itemsize + (3 if write_mask else 0)
    windows = plan_windows(grid.height, grid.width, per_pixel, max(budget - warp_mib * MIB, budget // 2))
    options: dict[str, Any] = {} if dst_nodata is None else {"nodata": dst_nodata}
    profile = geotiff_profile(
        width=grid.width,
        height=grid.height,
        count=count,
        dtype=dtype,
        crs=grid.crs,
        transform=grid.transform,
        nodata=dst_nodata,
        photometric=photometric_of(source),
        compress=compress,
    )
    profile.update(creation_options)
    with (
        WarpedVRT(
            source,
            crs=grid.crs,
            transform=grid.transform,
            width=grid.width,
            height=grid.height,
            resampling=Resampling[resampling],
            add_alpha=warp_alpha,
            warp_mem_limit=warp_mib,
            NUM_THREADS=gdal_threads(),
            **options,
        ) as vrt,
        rasterio.open(path, "w", **profile) as destination,
    ):
        copy_description(source, destination)
        for done, window in enumerate(windows, start=1):
            data = vrt.read(window=window)
            destination.write(data[:count], window=window)
            if warp_alpha:
                destination.write_mask(data[count] > 0, window=window)
            elif footprint is not None:
                shape = (int(window.height), int(window.width))
                transform = destination.window_transform(window)
                destination.write_mask(geometry_mask([footprint], shape, transform, invert=True), window=window)
            progress(100 * done // len(windows))


def has_dataset_mask(source: DatasetReader) -> bool:
    """Whether ``source`` marks validity with a per-dataset mask (not nodata, not alpha)."""
    from rasterio.enums import MaskFlags

    flags = source.mask_flag_enums[0]
    return MaskFlags.per_dataset in flags and MaskFlags.alpha not in flags and MaskFlags.nodata not in flags


_FOOTPRINT_POINTS = 256
"""Points per edge of a raster's outline rasterized as a mask: far below a pixel's error."""


def footprint_in(source: DatasetReader, crs: CRS) -> dict[str, Any]:
    """The raster's outline in ``crs`` as a GeoJSON polygon."""
    xs, ys = _outline_in(source, crs, _FOOTPRINT_POINTS)
    ring = [[x, y] for x, y in zip(xs, ys, strict=True)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


# ---------------------------------------------------------------- the base class


class RasterFunction(RasterArgs, ImageFunction):
    """Base of the rasterio functions: a safe open, then ``render`` on the dataset."""

    def check_with_libraries(self) -> None:
        """PROJ's verdict on every CRS argument (the API checked their form only)."""
        for name in self.crs_arguments:
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_crs(value)
                except ValueError as error:
                    raise InvalidRequest.for_field(f"function_args.{name}", str(error)) from None

    def render(
        self, source: DatasetReader, workdir: Path, limits: Limits, progress: Progress
    ) -> Rendered | RenderedFile:
        """The function's work on an opened source; results are written under ``workdir``."""
        raise NotImplementedError

    def run_file(
        self, source: Path, workdir: Path, limits: Limits, progress: Progress = no_progress
    ) -> Rendered | RenderedFile:
        """Open ``source`` safely (see the module's docstring) and ``render`` it."""
        with gdal_environment(), gdal_errors(), open_raster(source, limits) as dataset:
            return self.render(dataset, workdir, limits, progress)

    def run(self, source: bytes, limits: Limits, progress: Progress = no_progress) -> Rendered:
        """The same on bytes, through a temporary directory (the result in memory)."""
        with tempfile.TemporaryDirectory(prefix="pixelmill-raster-") as directory:
            path = Path(directory) / "source"
            path.write_bytes(source)
            workdir = Path(directory) / "work"
            workdir.mkdir()
            result = self.run_file(path, workdir, limits, progress)
            return result.read() if isinstance(result, RenderedFile) else result
