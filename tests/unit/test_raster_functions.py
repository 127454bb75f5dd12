"""to_cog, clip, normalized_difference and raster_info against independent references:
rio-cogeo's COG validator, direct windowed reads, numpy on the same pixels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.enums import MaskFlags
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

from pixelmill.catalog import registry
from pixelmill.errors import InvalidRequest, ProcessingError
from pixelmill.transforms import Limits
from tests.rastergen import ALPS_UTM32, ALPS_WGS84, open_raster_bytes, raster_bytes


def _validate_cog(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "result.tif"
    path.write_bytes(data)
    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    assert valid, errors


# ---------------------------------------------------------------- to_cog


@pytest.mark.parametrize(
    ("args", "source"),
    [
        ({}, {"bands": 1, "dtype": "float32", "nodata": -9999.0}),
        ({"compression": "zstd", "blocksize": 256}, {"bands": 4, "dtype": "uint16"}),
        ({"compression": "lzw", "overview_resampling": "nearest"}, {"bands": 1, "dtype": "int16"}),
        ({"compression": "jpeg", "quality": 80}, {"bands": 3, "dtype": "uint8", "photometric": "RGB"}),
        ({"compression": "webp"}, {"bands": 3, "dtype": "uint8", "alpha": True}),
    ],
)
def test_to_cog_writes_a_valid_cog(
    limits: Limits, tmp_path: Path, args: dict[str, Any], source: dict[str, Any]
) -> None:
    source_bytes = raster_bytes(1100, 900, crs="EPSG:32632", bounds=ALPS_UTM32, **source)
    rendered = registry.load("to_cog", args).run(source_bytes, limits)
    _validate_cog(rendered.data, tmp_path)
    with open_raster_bytes(source_bytes) as original, open_raster_bytes(rendered.data) as result:
        assert result.profile["compress"] == args.get("compression", "deflate")
        assert result.block_shapes[0] == (args.get("blocksize", 512),) * 2
        assert result.overviews(1)  # reduced copies for zooming out
        assert (result.crs, result.transform, result.nodata) == (original.crs, original.transform, original.nodata)
        if args.get("compression") not in ("jpeg", "webp"):  # lossless: the very same pixels
            assert (result.read() == original.read()).all()


def test_to_cog_reprojects_in_the_same_task(limits: Limits, tmp_path: Path) -> None:
    source_bytes = raster_bytes(600, 500, bands=2, dtype="uint16", nodata=0)
    reports: list[int] = []
    rendered = registry.load("to_cog", {"target_srs": "EPSG:3857", "resampling": "bilinear"}).run(
        source_bytes, limits, reports.append
    )
    _validate_cog(rendered.data, tmp_path)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        assert result.crs == CRS.from_epsg(3857)
        expected = transform_bounds(source.crs, result.crs, *source.bounds, densify_pts=21)
        assert result.bounds == pytest.approx(expected, abs=max(result.res))
        assert (result.count, result.nodata) == (2, 0)
    assert reports[-1] == 100


def test_to_cog_refuses_lossy_compression_of_data_it_cannot_hold(limits: Limits) -> None:
    with pytest.raises(ProcessingError, match="jpeg compression takes 8-bit rasters") as caught:
        registry.load("to_cog", {"compression": "jpeg"}).run(raster_bytes(64, 64, dtype="uint16"), limits)
    assert caught.value.code == "unsupported_compression"


@pytest.mark.parametrize(
    "args", [{"quality": 50}, {"resampling": "bilinear"}, {"resolution": 10}, {"compression": "lzma"}]
)
def test_to_cog_refuses_inconsistent_arguments_at_post(args: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        registry.load("to_cog", args)


# ---------------------------------------------------------------- clip


def test_clip_to_a_bbox_in_the_raster_crs_copies_those_pixels(limits: Limits) -> None:
    source_bytes = raster_bytes(240, 200, bands=3, dtype="int16", crs="EPSG:32632", bounds=ALPS_UTM32, nodata=-1)
    with open_raster_bytes(source_bytes) as source:
        # A box on pixel edges, columns 30..130 and rows 20..70
        left, top = source.transform @ (30, 20)
        right, bottom = source.transform @ (130, 70)
        rendered = registry.load("clip", {"bbox": [left, bottom, right, top]}).run(source_bytes, limits)
        with open_raster_bytes(rendered.data) as result:
            assert (result.width, result.height) == (100, 50)
            assert result.bounds == pytest.approx((left, bottom, right, top))
            assert (result.read() == source.read(window=Window(30, 20, 100, 50))).all()
            assert (result.crs, result.nodata, result.count) == (source.crs, -1, 3)


def test_clip_to_a_bbox_in_another_crs_covers_it(limits: Limits) -> None:
    source_bytes = raster_bytes(240, 200, crs="EPSG:32632", bounds=ALPS_UTM32)
    bbox = [10.2, 46.2, 10.5, 46.4]
    rendered = registry.load("clip", {"bbox": bbox, "crs": "EPSG:4326"}).run(source_bytes, limits)
    with open_raster_bytes(rendered.data) as result:
        covered = transform_bounds("EPSG:32632", "EPSG:4326", *result.bounds)
        assert covered[0] <= bbox[0]
        assert covered[1] <= bbox[1]
        assert covered[2] >= bbox[2]
        assert covered[3] >= bbox[3]
        # and no more than a pixel beyond the box, in the raster's CRS
        expected = transform_bounds("EPSG:4326", "EPSG:32632", *bbox, densify_pts=21)
        assert result.bounds == pytest.approx(expected, abs=max(result.res))


def test_clip_to_a_geojson_polygon_masks_what_is_outside(limits: Limits) -> None:
    # Given a raster without nodata and a triangle in longitude/latitude (GeoJSON's CRS)
    source_bytes = raster_bytes(200, 200, bands=2, crs="EPSG:4326", bounds=ALPS_WGS84)
    triangle = {"type": "Polygon", "coordinates": [[[10.2, 46.2], [10.8, 46.2], [10.2, 46.8], [10.2, 46.2]]]}
    rendered = registry.load("clip", {"geometry": triangle}).run(source_bytes, limits)
    with open_raster_bytes(rendered.data) as result:
        # Then the result is the triangle's box, masked outside the triangle
        assert result.bounds == pytest.approx((10.2, 46.2, 10.8, 46.8))
        assert MaskFlags.per_dataset in result.mask_flag_enums[0]
        mask = result.dataset_mask()
        assert mask[-2, 1] == 255  # near the right angle: inside
        assert mask[1, -2] == 0  # the opposite corner: outside
        assert 0.45 < (mask > 0).mean() < 0.55


def test_clip_with_nodata_sets_nodata_outside_the_polygon(limits: Limits) -> None:
    source_bytes = raster_bytes(200, 200, crs="EPSG:4326", bounds=ALPS_WGS84, nodata=0)
    square_with_hole = {
        "type": "MultiPolygon",
        "coordinates": [
            [
                [[10.1, 46.1], [10.9, 46.1], [10.9, 46.9], [10.1, 46.9], [10.1, 46.1]],
                [[10.4, 46.4], [10.6, 46.4], [10.6, 46.6], [10.4, 46.6], [10.4, 46.4]],
            ]
        ],
    }
    rendered = registry.load("clip", {"geometry": square_with_hole}).run(source_bytes, limits)
    with open_raster_bytes(rendered.data) as result:
        data = result.read(1)
        assert result.nodata == 0
        assert data[data.shape[0] // 2, data.shape[1] // 2] == 0  # in the hole
        assert data[5, 5] != 0


def test_clip_outside_the_raster_fails_with_the_reason(limits: Limits) -> None:
    with pytest.raises(ProcessingError, match="does not overlap") as caught:
        registry.load("clip", {"bbox": [0, 0, 1, 1]}).run(raster_bytes(50, 50), limits)
    assert caught.value.code == "outside_raster"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "function_args"),
        ({"bbox": [1, 1, 0, 2]}, "function_args"),
        ({"geometry": {"type": "Point", "coordinates": [1, 2]}}, "function_args.geometry"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}}, "function_args"),
        ({"bbox": [0, 0, 1, 1], "crs": "nonsense"}, "function_args.crs"),
    ],
)
def test_clip_refuses_bad_regions_at_post(args: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("clip", args)
    assert caught.value.errors[0].field.startswith(field)


# ---------------------------------------------------------------- normalized_difference


def test_normalized_difference_is_the_formula_with_nodata(limits: Limits) -> None:
    # Given a 4-band uint16 raster with a nodata region
    source_bytes = raster_bytes(
        300, 200, bands=4, dtype="uint16", crs="EPSG:32632", bounds=ALPS_UTM32, nodata=0,
        invalid=(slice(0, 20), slice(0, 300)),
    )  # fmt: skip
    rendered = registry.load("normalized_difference", {"band_a": 4, "band_b": 3}).run(source_bytes, limits)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        nir, red = source.read(4).astype(np.float64), source.read(3).astype(np.float64)
        valid = (nir != 0) & (red != 0)
        expected = np.where(valid, (nir - red) / np.where(valid, nir + red, 1), -9999.0).astype(np.float32)
        ndvi = result.read(1)
        assert (result.count, result.dtypes[0], result.nodata) == (1, "float32", -9999.0)
        assert (result.crs, result.transform) == (source.crs, source.transform)
        assert np.allclose(ndvi, expected, atol=1e-6)
        assert (ndvi[:20] == -9999.0).all()
        assert ndvi[valid].min() >= -1
        assert ndvi[valid].max() <= 1


def test_normalized_difference_of_a_missing_band_fails_with_the_reason(limits: Limits) -> None:
    with pytest.raises(ProcessingError, match="band 4 does not exist: the raster has 3") as caught:
        registry.load("normalized_difference", {"band_a": 4, "band_b": 3}).run(raster_bytes(20, 20, bands=3), limits)
    assert caught.value.code == "invalid_band"


def test_normalized_difference_is_zero_safe(limits: Limits, tmp_path: Path) -> None:
    path = tmp_path / "zeros.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=4, height=1, count=2, dtype="int16", crs="EPSG:4326",
        transform=rasterio.transform.from_origin(10, 47, 1, 1),
    ) as dataset:  # fmt: skip
        dataset.write(np.array([[[1, 0, -3, 5]], [[1, 0, 3, 5]]], dtype=np.int16))
    rendered = registry.load("normalized_difference", {"band_a": 1, "band_b": 2}).run(path.read_bytes(), limits)
    with open_raster_bytes(rendered.data) as result:
        assert result.read(1).tolist() == [[0.0, -9999.0, -9999.0, 0.0]]  # a + b = 0 twice


# ---------------------------------------------------------------- raster_info


def test_raster_info_describes_the_raster_and_its_exact_statistics(limits: Limits) -> None:
    source_bytes = raster_bytes(
        300, 200, bands=2, dtype="int16", crs="EPSG:32632", bounds=ALPS_UTM32, nodata=-32768,
        invalid=(slice(0, 50), slice(0, 300)), descriptions=["elevation", "slope"],
    )  # fmt: skip
    rendered = registry.load("raster_info", {}).run(source_bytes, limits)
    info = rendered.document
    assert info is not None
    assert rendered.content_type == "application/json"
    assert json.loads(rendered.data) == info
    with open_raster_bytes(source_bytes) as source:
        assert (info["width"], info["height"], info["count"], info["dtype"]) == (300, 200, 2, "int16")
        assert info["crs"] == "EPSG:32632"
        assert info["nodata"] == -32768
        assert info["bounds"] == dict(zip(("left", "bottom", "right", "top"), source.bounds, strict=True))
        west, south, east, north = transform_bounds(source.crs, "EPSG:4326", *source.bounds, densify_pts=21)
        assert info["bounds_wgs84"] == pytest.approx({"west": west, "south": south, "east": east, "north": north})
        for band, described in zip(source.read(masked=True), info["bands"], strict=True):
            stats = described["statistics"]
            assert stats["valid_pixels"] == int(band.count())
            assert stats["invalid_pixels"] == 50 * 300
            assert (stats["min"], stats["max"]) == (int(band.min()), int(band.max()))
            assert stats["mean"] == pytest.approx(float(band.mean()), rel=1e-9)
            assert stats["std"] == pytest.approx(float(band.std()), rel=1e-9)
    assert [band["description"] for band in info["bands"]] == ["elevation", "slope"]


def test_raster_info_statistics_are_the_same_in_many_windows(limits: Limits) -> None:
    import dataclasses

    source_bytes = raster_bytes(700, 600, bands=3, dtype="float32", nodata=-9999.0, invalid=(slice(0, 9), slice(0, 9)))
    whole = registry.load("raster_info", {}).run(source_bytes, limits).document
    tight = dataclasses.replace(limits, raster_memory_bytes=256 * 256 * 3 * 4)
    reports: list[int] = []
    windowed = registry.load("raster_info", {}).run(source_bytes, tight, reports.append).document
    assert whole is not None
    assert windowed is not None
    assert len(reports) > 5
    for a, b in zip(whole["bands"], windowed["bands"], strict=True):
        assert a["statistics"]["valid_pixels"] == b["statistics"]["valid_pixels"]
        assert a["statistics"]["mean"] == pytest.approx(b["statistics"]["mean"], rel=1e-12)
        assert a["statistics"]["std"] == pytest.approx(b["statistics"]["std"], rel=1e-9)


def test_raster_info_of_a_nan_nodata_float_raster_is_valid_json(limits: Limits) -> None:
    source_bytes = raster_bytes(64, 64, dtype="float32", nodata=float("nan"), invalid=(slice(0, 8), slice(0, 64)))
    rendered = registry.load("raster_info", {}).run(source_bytes, limits)
    info = json.loads(rendered.data)  # strict JSON: no NaN literal
    assert info["nodata"] == "nan"
    assert info["bands"][0]["statistics"]["valid_pixels"] == 56 * 64


def test_raster_info_of_a_raster_across_the_antimeridian_has_west_greater_than_east(limits: Limits) -> None:
    source_bytes = raster_bytes(100, 100, crs="EPSG:32660", bounds=(700_000.0, 5_000_000.0, 900_000.0, 5_200_000.0))
    info = registry.load("raster_info", {"statistics": False}).run(source_bytes, limits).document
    assert info is not None
    assert info["bounds_wgs84"]["west"] > info["bounds_wgs84"]["east"]
    assert "statistics" not in info["bands"][0]


def test_every_raster_function_reads_a_png_and_a_jpeg_source(limits: Limits) -> None:
    # PNG and JPEG rasters carry no CRS of their own; raster_info and normalized_difference need none
    for driver in ("PNG", "JPEG"):
        source = raster_bytes(64, 48, bands=3, crs=None, driver=driver)
        info = registry.load("raster_info", {}).run(source, limits).document
        assert info is not None
        assert info["driver"] == driver
        ndvi = registry.load("normalized_difference", {"band_a": 1, "band_b": 2}).run(source, limits)
        with open_raster_bytes(ndvi.data) as result:
            assert (result.width, result.height) == (64, 48)
