"""What every raster function shares: a safe open, limits, CRS arguments, windows, the catalog."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from rasterio.windows import Window

from pixelmill.catalog import registry
from pixelmill.errors import ImageTooLarge, InvalidRequest, ProcessingError, UnsupportedImage
from pixelmill.transforms import Limits
from pixelmill.transforms._raster import TILE, parse_crs, plan_windows
from tests.imagegen import image_bytes, jpeg_bytes
from tests.rastergen import raster_bytes, write_raster

RASTER_FUNCTIONS = {"change_projection", "to_cog", "clip", "resample", "normalized_difference", "raster_info"}


def test_every_raster_function_is_in_the_catalog_as_raster() -> None:
    catalog = {entry.name: entry for entry in registry.catalog()}
    for name in RASTER_FUNCTIONS:
        assert catalog[name].kind == "raster"
        assert catalog[name].description
        assert catalog[name].arguments["additionalProperties"] is False
        for field, schema in catalog[name].arguments["properties"].items():
            assert schema.get("description") or "$ref" in schema or "anyOf" in schema, f"{name}.{field}"
    json.dumps([entry.model_dump() for entry in catalog.values()])


@pytest.mark.parametrize("name", sorted(RASTER_FUNCTIONS))
def test_the_catalog_examples_are_valid_arguments(name: str) -> None:
    examples = registry.get(name).model_json_schema()["examples"]
    assert examples
    for example in examples:
        registry.load(name, example)


def test_raster_functions_are_not_pipeline_steps() -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("pipeline", {"steps": [{"function_type": "change_projection", "function_args": {}}]})
    assert caught.value.errors[0].field.startswith("function_args.steps.0")


# ---------------------------------------------------------------- CRS arguments


@pytest.mark.parametrize(
    "text",
    [
        "EPSG:3857",
        "epsg:32633",
        "ESRI:54009",
        "OGC:CRS84",
        "urn:ogc:def:crs:EPSG::4326",
        "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m +no_defs",
        "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +no_defs",
        'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
        'UNIT["degree",0.0174532925199433]]',
    ],
)
def test_crs_arguments_accept_codes_wkt_and_proj_strings(text: str) -> None:
    function = registry.load("change_projection", {"target_srs": text})
    assert parse_crs(function.target_srs).to_wkt()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("/etc/passwd", "authority code"),
        ("http://example.test/crs.wkt", "authority code"),
        ("+proj=longlat +init=/etc/passwd:x", "may not name files"),
        ("+proj=longlat +ellps=WGS84 +nadgrids=/tmp/grid.gsb", "may not name files"),
        (
            'GEOGCS["x",DATUM["d",SPHEROID["s",6378137,298.25],EXTENSION["PROJ4_GRIDS","g"]],UNIT["degree",1]]',
            "EXTENSION",
        ),
        ("+proj=longlat +ellps=WGS84 +geoidgrids=g.tif", "+geoidgrids is not accepted"),
        ("DICT:epsg,4326", "authority code"),
        ("hello", "authority code"),
    ],
)
def test_crs_arguments_of_the_wrong_form_are_refused_at_post_naming_the_field(text: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.parse("change_projection", {"target_srs": text})
    [error] = caught.value.errors
    assert error.field == "function_args.target_srs"
    assert reason in error.message


@pytest.mark.parametrize(
    ("function_type", "args", "reason"),
    [
        ("change_projection", {"target_srs": "EPSG:999999"}, "not a CRS"),
        ("change_projection", {"target_srs": "EPSG:4978"}, "neither geographic nor projected"),  # geocentric
        ("change_projection", {"target_srs": "EPSG:4267"}, "+datum=NAD27 is defined by grid files"),  # resolved
        ("to_cog", {"target_srs": "EPSG:999999"}, "not a CRS"),
        ("clip", {"bbox": [0, 0, 1, 1], "crs": "EPSG:999999"}, "not a CRS"),
    ],
)
def test_crs_arguments_proj_does_not_know_pass_the_api_and_are_refused_by_the_worker(
    function_type: str, args: dict[str, object], reason: str
) -> None:
    # The API checks the allowlist only (no PROJ in its layer); the worker's load asks PROJ,
    # and checks what PROJ resolved the CRS to against the same allowlist.
    registry.parse(function_type, args)
    with pytest.raises(InvalidRequest) as caught:
        registry.load(function_type, args)
    [error] = caught.value.errors
    assert error.field == f"function_args.{next(iter(set(args) - {'bbox'}))}"
    assert reason in error.message


# ---------------------------------------------------------------- opening sources


def test_a_file_that_is_not_a_raster_is_unsupported(limits: Limits) -> None:
    with pytest.raises(UnsupportedImage, match="not a raster"):
        registry.load("raster_info", {}).run(b"just some text, not pixels", limits)


def test_a_format_without_an_accepted_driver_is_unsupported(limits: Limits) -> None:
    with pytest.raises(UnsupportedImage, match="GIF files are not accepted as rasters"):
        registry.load("raster_info", {}).run(image_bytes("GIF", 8, 8), limits)


def test_a_vrt_pointing_at_another_file_is_refused(tmp_path: Path, limits: Limits) -> None:
    # Given a VRT that would read a GeoTIFF elsewhere on the host
    target = tmp_path / "secret.tif"
    write_raster(target, 16, 16)
    vrt = (
        f'<VRTDataset rasterXSize="16" rasterYSize="16"><VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{target}</SourceFilename><SourceBand>1</SourceBand>'
        f"</SimpleSource></VRTRasterBand></VRTDataset>"
    ).encode()
    # Then no raster function opens it
    with pytest.raises(UnsupportedImage, match="not a raster"):
        registry.load("raster_info", {}).run(vrt, limits)


def test_a_truncated_geotiff_is_unsupported(limits: Limits) -> None:
    data = raster_bytes(64, 64)
    with pytest.raises(ProcessingError):
        registry.load("raster_info", {}).run(data[:200], limits)


def test_a_jpeg_without_georeferencing_is_described_but_not_reprojected(limits: Limits) -> None:
    photo = jpeg_bytes(40, 30)
    info = registry.load("raster_info", {}).run(photo, limits).document
    assert info is not None
    assert (info["driver"], info["width"], info["height"], info["crs"]) == ("JPEG", 40, 30, None)
    with pytest.raises(ProcessingError, match="no coordinate reference system") as caught:
        registry.load("change_projection", {"target_srs": "EPSG:3857"}).run(photo, limits)
    assert caught.value.code == "not_georeferenced"


def test_a_raster_over_the_pixel_limit_is_refused_before_reading(limits: Limits) -> None:
    small = dataclasses.replace(limits, max_raster_pixels=100 * 100 * 3 - 1)
    with pytest.raises(ImageTooLarge, match="100×100 pixels × 3 bands"):
        registry.load("raster_info", {}).run(raster_bytes(100, 100, bands=3), small)


def test_a_result_over_the_pixel_limit_is_refused(limits: Limits) -> None:
    small = dataclasses.replace(limits, max_raster_pixels=100 * 100)
    with pytest.raises(ImageTooLarge, match="the result"):
        registry.load("resample", {"scale": 2}).run(raster_bytes(100, 100), small)


def test_a_raster_stored_in_blocks_larger_than_the_working_memory_is_refused(limits: Limits) -> None:
    # Given a GeoTIFF in one compressed strip: GDAL can only read it whole
    whole = raster_bytes(512, 512, bands=3, tiled=False, blockysize=512)
    tight = dataclasses.replace(limits, raster_memory_bytes=512 * 512 * 3 - 1)
    with pytest.raises(ImageTooLarge, match="save it tiled"):
        registry.load("raster_info", {}).run(whole, tight)


def test_gdal_writes_nothing_next_to_the_source(tmp_path: Path, limits: Limits) -> None:
    source = tmp_path / "source"
    write_raster(source, 64, 64, bands=2)
    workdir = tmp_path / "work"
    workdir.mkdir()
    registry.load("raster_info", {}).run_file(source, workdir, limits)
    registry.load("change_projection", {"target_srs": "EPSG:3857"}).run_file(source, workdir, limits)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "work"]
    assert sorted(p.name for p in workdir.iterdir()) == ["result.tif"]


# ---------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("height", "width", "bytes_per_pixel", "budget"),
    [
        (5000, 3000, 4, 64 * 1024 * 1024),  # whole tile rows
        (5000, 3000, 4, 1024 * 1024),  # less than a tile row: blocks of tiles
        (100, 200_000, 8, 1024 * 1024),  # a very wide raster
        (700, 900, 40_000, 1024 * 1024),  # thousands of bands: windows smaller than a tile
        (300, 200, 1, 1 << 40),  # one window
    ],
)
def test_windows_cover_the_raster_once_within_the_budget(
    height: int, width: int, bytes_per_pixel: int, budget: int
) -> None:
    windows = plan_windows(height, width, bytes_per_pixel, budget)
    covered = sum(int(w.width) * int(w.height) for w in windows)
    assert covered == width * height
    assert all(int(w.width) * int(w.height) * bytes_per_pixel <= max(budget, bytes_per_pixel) for w in windows)
    # No overlap: each window starts where the previous ends (row-major)
    starts = {(int(w.row_off), int(w.col_off)) for w in windows}
    assert len(starts) == len(windows)
    assert all(0 <= w.col_off < width and 0 <= w.row_off < height for w in windows)


def test_windows_are_whole_tiles_when_a_tile_row_fits() -> None:
    windows = plan_windows(5000, 3000, 4, 3000 * TILE * 4 * 3)
    assert windows[0] == Window(0, 0, 3000, 3 * TILE)
    assert all(int(w.row_off) % TILE == 0 for w in windows)
