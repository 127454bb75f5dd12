"""clip: cut a raster to a bounding box or a GeoJSON polygon (its implementation; the arguments are ``pixelmill.catalog.clip``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelmill.errors import ProcessingError
from pixelmill.transforms._raster import (
    GEOTIFF,
    RasterFunction,
    copy_description,
    geotiff_profile,
    has_alpha_band,
    has_dataset_mask,
    max_itemsize,
    north_up_bounds,
    parse_crs,
    photometric_of,
    plan_windows,
)
from pixelmill.transforms.base import Limits, Progress, RenderedFile

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
    from rasterio.windows import Window
from pixelmill.catalog import clip as arguments


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """min x, min y, max x, max y of a GeoJSON Polygon or MultiPolygon."""
    coordinates = geometry["coordinates"]
    rings = coordinates if geometry["type"] == "Polygon" else [ring for polygon in coordinates for ring in polygon]
    xs = [position[0] for ring in rings for position in ring]
    ys = [position[1] for ring in rings for position in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _covering_window(source: DatasetReader, box: tuple[float, float, float, float]) -> Window:
    """The smallest whole-pixel window of ``source`` covering ``box`` (in the source's CRS)."""
    from rasterio.windows import Window

    min_x, min_y, max_x, max_y = box
    if not all(math.isfinite(value) for value in box) or min_x > max_x:
        raise ProcessingError(
            "the region cannot be placed in the raster's CRS (it crosses its antimeridian or lies outside it)",
            code="outside_raster",
        )
    inverse = ~source.transform
    cols, rows = zip(*(inverse @ corner for corner in ((min_x, max_y), (max_x, min_y))), strict=True)
    # A tolerance of a thousandth of a pixel: a box on pixel edges must not take in a neighbour.
    col_start = max(0, math.floor(min(cols) + 1e-3))
    col_stop = min(source.width, math.ceil(max(cols) - 1e-3))
    row_start = max(0, math.floor(min(rows) + 1e-3))
    row_stop = min(source.height, math.ceil(max(rows) - 1e-3))
    if col_stop <= col_start or row_stop <= row_start:
        raise ProcessingError("the region does not overlap the raster", code="outside_raster")
    return Window(col_start, row_start, col_stop - col_start, row_stop - row_start)


class Clip(arguments.Clip, RasterFunction):
    """Runs ``clip``."""

    def render(self, source: DatasetReader, workdir: Path, limits: Limits, progress: Progress) -> RenderedFile:
        """Copy the covering window of ``source``, masking what lies outside a geometry."""
        import rasterio
        from rasterio.crs import CRS
        from rasterio.enums import ColorInterp
        from rasterio.features import geometry_mask
        from rasterio.warp import transform_bounds, transform_geom
        from rasterio.windows import Window

        north_up_bounds(source)
        shape: dict[str, Any] | None = None
        if self.bbox is not None:
            region_crs = parse_crs(self.crs) if self.crs else source.crs
            box = self.bbox
            if region_crs != source.crs:
                box = transform_bounds(region_crs, source.crs, *box, densify_pts=21)
        else:
            assert self.geometry is not None
            region_crs = parse_crs(self.crs) if self.crs else CRS.from_epsg(4326)
            geojson = self.geometry.model_dump(include={"type", "coordinates"})
            shape = geojson if region_crs == source.crs else transform_geom(region_crs, source.crs, geojson)
            box = _bounds(shape)
        region = _covering_window(source, box)

        nodata, alpha = source.nodata, has_alpha_band(source)
        alpha_bands = [index for index, colour in enumerate(source.colorinterp) if colour is ColorInterp.alpha]
        # Invalid pixels keep their marker: nodata, else alpha, else a mask (the source's, or new for a geometry).
        write_mask = nodata is None and not alpha and (shape is not None or has_dataset_mask(source))
        count = source.count
        profile = geotiff_profile(
            width=int(region.width),
            height=int(region.height),
            count=count,
            dtype=source.dtypes[0],
            crs=source.crs,
            transform=source.window_transform(region),
            nodata=nodata,
            photometric=photometric_of(source),
        )
        itemsize = max_itemsize(source.dtypes)
        windows = plan_windows(
            int(region.height), int(region.width), (count + 2) * itemsize, limits.raster_memory_bytes
        )
        path = workdir / "result.tif"
        with rasterio.open(path, "w", **profile) as destination:
            copy_description(source, destination)
            for done, window in enumerate(windows, start=1):
                read = Window(
                    region.col_off + window.col_off, region.row_off + window.row_off, window.width, window.height
                )
                data = source.read(window=read)
                inside = None
                if shape is not None:
                    inside = geometry_mask(
                        [shape],
                        out_shape=(int(window.height), int(window.width)),
                        transform=source.window_transform(read),
                        invert=True,
                    )
                    if nodata is not None:
                        data[:, ~inside] = nodata
                    elif alpha:
                        for band in alpha_bands:
                            data[band, ~inside] = 0
                destination.write(data, window=window)
                if write_mask:
                    valid = source.dataset_mask(window=read) > 0
                    destination.write_mask(valid if inside is None else valid & inside, window=window)
                progress(100 * done // len(windows))
        return RenderedFile(path, *GEOTIFF, {"width": int(region.width), "height": int(region.height), "count": count})
