"""change_projection and resample against independent references: GDAL's
transform_bounds for the extent and a direct, in-memory rasterio.warp.reproject
of the same pixels for the values."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.io import DatasetReader
from rasterio.warp import reproject, transform_bounds

from pixelmill.catalog import registry
from pixelmill.errors import ProcessingError
from pixelmill.transforms import Limits
from tests.rastergen import ALPS_UTM32, ALPS_WGS84, Bounds, open_raster_bytes, raster_bytes

# source CRS and bounds → target CRS
REPROJECTIONS: list[tuple[str, Bounds, str]] = [
    ("EPSG:4326", ALPS_WGS84, "EPSG:3857"),
    ("EPSG:32632", ALPS_UTM32, "EPSG:4326"),
    ("EPSG:4326", ALPS_WGS84, "EPSG:3035"),  # LAEA Europe
    ("EPSG:3035", (4200000.0, 2600000.0, 4300000.0, 2680000.0), "EPSG:32632"),
]


def direct_reproject(source: DatasetReader, result: DatasetReader, resampling: str) -> np.ndarray[Any, Any]:
    """The reference: the whole source warped in memory onto the result's grid in one call."""
    expected = np.zeros((result.count, result.height, result.width), dtype=result.dtypes[0])
    reproject(
        source.read(),
        expected,
        src_transform=source.transform,
        src_crs=source.crs,
        src_nodata=source.nodata,
        dst_transform=result.transform,
        dst_crs=result.crs,
        dst_nodata=result.nodata,
        resampling=Resampling[resampling],
    )
    return expected


def valid_pixels(result: DatasetReader) -> np.ndarray[Any, Any]:
    """Where the result has data (nodata and masks taken into account), per band."""
    return np.asarray(~np.ma.getmaskarray(result.read(masked=True)))


def assert_matches_reference(result: DatasetReader, expected: np.ndarray[Any, Any], resampling: str) -> None:
    """Pixel values agree where both have data: exactly for nearest (all but a
    few pixels that GDAL's approximate transformer puts on the other side of a
    pixel edge), within a small fraction of the value range otherwise."""
    actual = result.read().astype(np.float64)
    where = valid_pixels(result)
    if result.nodata is not None:
        where &= expected != result.nodata
    assert where.mean() > 0.3  # a real comparison, not an empty one
    diff = np.abs(actual[where] - expected.astype(np.float64)[where])
    if resampling == "nearest":
        assert (diff == 0).mean() > 0.99
    else:
        value_range = float(np.ptp(expected.astype(np.float64)[where])) or 1.0
        assert float(np.percentile(diff, 99)) <= 0.02 * value_range
        assert float(diff.mean()) <= 0.005 * value_range


def assert_bounds_match(source: DatasetReader, result: DatasetReader) -> None:
    """The result's bounds are the source's transformed (GDAL's transform_bounds), within a pixel."""
    expected = transform_bounds(source.crs, result.crs, *source.bounds, densify_pts=21)
    x_size, y_size = result.res
    left, bottom, right, top = result.bounds
    assert abs(left - expected[0]) <= x_size
    assert abs(bottom - expected[1]) <= y_size
    assert abs(right - expected[2]) <= x_size
    assert abs(top - expected[3]) <= y_size


@pytest.mark.parametrize(("source_crs", "bounds", "target"), REPROJECTIONS)
@pytest.mark.parametrize("resampling", ["nearest", "bilinear"])
def test_change_projection_matches_the_references(
    limits: Limits, source_crs: str, bounds: Bounds, target: str, resampling: str
) -> None:
    # Given a 3-band uint16 raster with nodata
    source_bytes = raster_bytes(
        240, 200, bands=3, dtype="uint16", crs=source_crs, bounds=bounds, nodata=0, invalid=(slice(0, 40), slice(0, 60))
    )
    # When it is reprojected
    rendered = registry.load("change_projection", {"target_srs": target, "resampling": resampling}).run(
        source_bytes, limits
    )
    # Then it is in the target CRS, over the transformed bounds, with the reference's values
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        assert result.crs == CRS.from_user_input(target)
        assert (result.count, result.dtypes, result.nodata) == (3, ("uint16",) * 3, 0)
        assert_bounds_match(source, result)
        assert_matches_reference(result, direct_reproject(source, result, resampling), resampling)
        # And the source's nodata region stays nodata
        assert (result.read(1) == 0).any()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
@pytest.mark.parametrize("bands", [1, 3, 4])
def test_every_dtype_and_band_count_survives(limits: Limits, dtype: str, bands: int) -> None:
    nodata = {"uint8": 255, "uint16": 65535, "int16": -32768, "float32": -9999.0}[dtype]
    source_bytes = raster_bytes(
        150, 120, bands=bands, dtype=dtype, nodata=nodata, invalid=(slice(100, 120), slice(0, 150))
    )
    rendered = registry.load("change_projection", {"target_srs": "EPSG:32632", "resampling": "bilinear"}).run(
        source_bytes, limits
    )
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        assert (result.count, result.dtypes[0], result.nodata) == (bands, dtype, nodata)
        assert_bounds_match(source, result)
        assert_matches_reference(result, direct_reproject(source, result, "bilinear"), "bilinear")


def test_a_small_working_memory_gives_the_same_pixels_in_many_windows(limits: Limits) -> None:
    # Given the same reprojection with room for everything at once, and with room for a few rows
    source_bytes = raster_bytes(600, 500, bands=3, dtype="uint8", crs="EPSG:4326")
    function = registry.load("change_projection", {"target_srs": "EPSG:3857", "resampling": "cubic"})
    whole = function.run(source_bytes, limits)
    reports: list[int] = []
    # (the source's 256×256 blocks must fit: they are read whole)
    tight = dataclasses.replace(limits, raster_memory_bytes=256 * 256 * 3)
    windowed = function.run(source_bytes, tight, reports.append)
    # Then it went window by window, reporting each
    assert len(reports) > 10
    assert reports == sorted(reports)
    assert reports[-1] == 100
    # And the pixels are the same (but for GDAL's approximate transformer at a few window edges)
    with open_raster_bytes(whole.data) as a, open_raster_bytes(windowed.data) as b:
        assert a.profile == b.profile
        assert (a.read() == b.read()).mean() > 0.999


def test_resolution_and_explicit_nodata(limits: Limits) -> None:
    source_bytes = raster_bytes(100, 100, crs="EPSG:4326")
    rendered = registry.load(
        "change_projection", {"target_srs": "EPSG:32632", "resolution": [500, 250], "nodata": 7}
    ).run(source_bytes, limits)
    with open_raster_bytes(rendered.data) as result:
        assert result.res == (500, 250)
        assert result.nodata == 7
        assert (result.read(1) == 7).any()  # the corners the source does not cover


def test_a_nodata_that_does_not_fit_the_data_type_fails_with_the_reason(limits: Limits) -> None:
    with pytest.raises(ProcessingError, match="cannot be stored in a uint8") as caught:
        registry.load("change_projection", {"target_srs": "EPSG:3857", "nodata": -1}).run(raster_bytes(32, 32), limits)
    assert caught.value.code == "invalid_nodata"


def test_without_nodata_the_uncovered_pixels_are_masked(limits: Limits) -> None:
    # Given a raster with an internal mask over a corner, and no nodata
    source_bytes = raster_bytes(200, 200, bands=3, mask=True, invalid=(slice(0, 50), slice(0, 50)))
    rendered = registry.load("change_projection", {"target_srs": "EPSG:32632"}).run(source_bytes, limits)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        # Then the result keeps three bands and marks validity with a per-dataset mask
        assert result.count == 3
        assert result.nodata is None
        assert MaskFlags.per_dataset in result.mask_flag_enums[0]
        mask = result.dataset_mask()
        # And the masked corner of the source, like the area outside it, is masked in the result
        expected = np.zeros((result.height, result.width), dtype=np.uint8)
        reproject(
            source.dataset_mask(),
            expected,
            src_transform=source.transform,
            src_crs=source.crs,
            dst_transform=result.transform,
            dst_crs=result.crs,
            resampling=Resampling.nearest,
        )
        assert ((mask > 0) == (expected > 0)).mean() > 0.995
        assert (mask == 0).mean() > 0.05


def test_an_alpha_band_carries_validity(limits: Limits) -> None:
    source_bytes = raster_bytes(200, 200, bands=3, alpha=True, invalid=(slice(0, 50), slice(0, 200)))
    rendered = registry.load("change_projection", {"target_srs": "EPSG:3857"}).run(source_bytes, limits)
    with open_raster_bytes(rendered.data) as result:
        assert result.count == 4
        assert result.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha)
        alpha = result.read(4)
        assert set(np.unique(alpha)) == {0, 255}
        # The transparent top quarter of the source stays transparent
        assert (alpha[: result.height // 5] == 0).all()


def test_band_descriptions_colour_interpretation_and_tags_are_kept(limits: Limits) -> None:
    source_bytes = raster_bytes(
        64,
        64,
        bands=3,
        descriptions=["red", "green", "blue"],
        colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue],
        photometric="RGB",
    )
    rendered = registry.load("change_projection", {"target_srs": "EPSG:3857"}).run(source_bytes, limits)
    with open_raster_bytes(rendered.data) as result:
        assert result.descriptions == ("red", "green", "blue")
        assert result.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue)


def test_a_paletted_raster_keeps_its_colour_map(limits: Limits, tmp_path: Any) -> None:
    path = tmp_path / "palette.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=32, height=32, count=1, dtype="uint8", crs="EPSG:4326",
        transform=rasterio.transform.from_bounds(*ALPS_WGS84, 32, 32), photometric="PALETTE",
    ) as dataset:  # fmt: skip
        dataset.write(np.arange(32 * 32, dtype=np.uint8).reshape(1, 32, 32) % 3)
        dataset.write_colormap(1, {0: (255, 0, 0, 255), 1: (0, 255, 0, 255), 2: (0, 0, 255, 255)})
    rendered = registry.load("change_projection", {"target_srs": "EPSG:3857"}).run(path.read_bytes(), limits)
    with open_raster_bytes(rendered.data) as result:
        assert result.colorinterp == (ColorInterp.palette,)
        assert result.colormap(1)[2] == (0, 0, 255, 255)


# ---------------------------------------------------------------- poles and the antimeridian


def test_a_raster_around_the_south_pole_goes_to_geographic_coordinates(limits: Limits) -> None:
    # Given a polar stereographic raster centred on the South Pole
    source_bytes = raster_bytes(
        200, 200, crs="EPSG:3031", bounds=(-1_000_000.0, -1_000_000.0, 1_000_000.0, 1_000_000.0), nodata=0
    )
    rendered = registry.load("change_projection", {"target_srs": "EPSG:4326"}).run(source_bytes, limits)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        # Then it covers every longitude down to the pole
        left, bottom, right, _top = result.bounds
        assert (round(left), round(right), round(bottom)) == (-180, 180, -90)
        assert_bounds_match(source, result)


def test_a_raster_containing_a_pole_is_refused_by_web_mercator_with_the_reason(limits: Limits) -> None:
    source_bytes = raster_bytes(100, 100, crs="EPSG:4326", bounds=(-10.0, 80.0, 10.0, 90.0))
    with pytest.raises(ProcessingError, match="contains the North Pole, which EPSG:3857 cannot represent") as caught:
        registry.load("change_projection", {"target_srs": "EPSG:3857"}).run(source_bytes, limits)
    assert caught.value.code == "unrepresentable_area"


def test_a_raster_near_a_pole_but_not_on_it_is_reprojected(limits: Limits) -> None:
    source_bytes = raster_bytes(100, 100, crs="EPSG:4326", bounds=(20.0, 78.0, 30.0, 80.0))
    rendered = registry.load("change_projection", {"target_srs": "EPSG:3413"}).run(source_bytes, limits)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        assert_bounds_match(source, result)


def test_a_raster_across_the_antimeridian_fails_with_the_reason_in_geographic_coordinates(limits: Limits) -> None:
    # Given a UTM zone 60 raster that reaches past 180° east
    source_bytes = raster_bytes(100, 100, crs="EPSG:32660", bounds=(700_000.0, 5_000_000.0, 900_000.0, 5_200_000.0))
    with pytest.raises(ProcessingError, match="crosses the antimeridian of EPSG:4326") as caught:
        registry.load("change_projection", {"target_srs": "EPSG:4326"}).run(source_bytes, limits)
    assert caught.value.code == "crosses_antimeridian"


def test_a_raster_across_the_antimeridian_goes_to_a_crs_centred_on_it(limits: Limits) -> None:
    # Given the same kind of raster, in geographic coordinates past 180°
    source_bytes = raster_bytes(200, 100, crs="EPSG:4326", bounds=(175.0, -20.0, 185.0, -15.0), nodata=0)
    # When it goes to its UTM zone (60 south), which is continuous there
    rendered = registry.load("change_projection", {"target_srs": "EPSG:32760"}).run(source_bytes, limits)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        assert_bounds_match(source, result)
        assert_matches_reference(result, direct_reproject(source, result, "nearest"), "nearest")


# ---------------------------------------------------------------- resample


@pytest.mark.parametrize(("args", "size"), [({"scale": 0.5}, (120, 100)), ({"scale": 2}, (480, 400))])
def test_resample_by_scale_keeps_the_extent(limits: Limits, args: dict[str, Any], size: tuple[int, int]) -> None:
    source_bytes = raster_bytes(240, 200, bands=2, dtype="int16", crs="EPSG:32632", bounds=ALPS_UTM32, nodata=-1)
    rendered = registry.load("resample", {**args, "resampling": "average"}).run(source_bytes, limits)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        assert (result.width, result.height) == size
        assert result.crs == source.crs
        assert result.bounds == pytest.approx(source.bounds)
        assert (result.count, result.dtypes[0], result.nodata) == (2, "int16", -1)
        assert_matches_reference(result, direct_reproject(source, result, "average"), "average")


def test_resample_to_a_resolution(limits: Limits) -> None:
    source_bytes = raster_bytes(240, 200, crs="EPSG:32632", bounds=ALPS_UTM32)
    rendered = registry.load("resample", {"resolution": 1000}).run(source_bytes, limits)
    with open_raster_bytes(source_bytes) as source, open_raster_bytes(rendered.data) as result:
        assert result.res == (1000, 1000)
        assert (result.width, result.height) == (77, 113)
        assert (result.bounds.left, result.bounds.top) == (source.bounds.left, source.bounds.top)
        assert_matches_reference(result, direct_reproject(source, result, "nearest"), "nearest")


def test_resample_takes_scale_or_resolution() -> None:
    from pixelmill.errors import InvalidRequest

    for args in ({}, {"scale": 2, "resolution": 10}):
        with pytest.raises(InvalidRequest, match="either scale or resolution"):
            registry.load("resample", args)
