"""Raster functions through the whole service: a GeoTIFF uploaded with a presigned
POST, a task created at the API, the processor's SQS batch, the result downloaded
from its result_url and opened with rasterio."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from pixelmill.catalog import registry
from tests.imagegen import image_bytes, jpeg_bytes
from tests.integration.conftest import Stack
from tests.rastergen import ALPS_UTM32, open_raster_bytes, raster_bytes

# function_type, function_args → the result's (CRS, width, height, band count); None for JSON
CASES: list[tuple[str, dict[str, Any], tuple[str, int, int, int] | None]] = [
    ("change_projection", {"target_srs": "EPSG:4326"}, ("EPSG:4326", 0, 0, 3)),
    ("to_cog", {"compression": "zstd"}, ("EPSG:32632", 240, 200, 3)),
    ("clip", {"bbox": [600000, 5100000, 620000, 5120000]}, ("EPSG:32632", 64, 37, 3)),  # pixels 74..138, 153..190
    ("resample", {"scale": 0.5}, ("EPSG:32632", 120, 100, 3)),
    ("normalized_difference", {"band_a": 3, "band_b": 2}, ("EPSG:32632", 240, 200, 1)),
    ("raster_info", {}, None),
]


def _run(stack: Stack, image_id: str, function_type: str, args: dict[str, Any]) -> dict[str, Any]:
    created = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": function_type, "function_args": args}
    )
    assert created.status == 200, created.body
    assert stack.process_batch().received == 1
    task: dict[str, Any] = stack.api.get(f"/api/tasks/{created.json()['task_id']}/").json()
    return task


def test_every_raster_function_is_covered() -> None:
    assert {case[0] for case in CASES} == {cls.name for cls in registry if cls.kind == "raster"}


def test_a_geotiff_reprojected_to_web_mercator_opens_with_the_right_crs_and_bounds(stack: Stack) -> None:
    # Given a GeoTIFF in UTM 32N uploaded like any image
    source = raster_bytes(240, 200, bands=3, dtype="uint16", crs="EPSG:32632", bounds=ALPS_UTM32, nodata=0)
    image_id = stack.upload(source, "image/tiff")

    # When change_projection to EPSG:3857 runs through the API and the processor
    task = _run(stack, image_id, "change_projection", {"target_srs": "EPSG:3857"})

    # Then the task is done and its result is a GeoTIFF in EPSG:3857 over the source's transformed bounds
    assert task["status"] == "done", task["error"]
    assert task["progress"] == 100
    assert task["result"] is None
    download = requests.get(task["result_url"], timeout=30)
    assert download.headers["Content-Type"] == "image/tiff"
    with open_raster_bytes(source) as original, open_raster_bytes(download.content) as result:
        assert result.crs == CRS.from_epsg(3857)
        expected = transform_bounds(original.crs, result.crs, *original.bounds, densify_pts=21)
        for actual, wanted, pixel in zip(result.bounds, expected, (*result.res, *result.res), strict=True):
            assert abs(actual - wanted) <= pixel
        assert (result.count, result.dtypes[0], result.nodata) == (3, "uint16", 0)
    # And the result is an image of its own: it can be described by another task
    info = _run(stack, task["new_image_id"], "raster_info", {"statistics": False})
    assert info["result"]["crs"] == "EPSG:3857"


@pytest.mark.parametrize(("function_type", "args", "expected"), CASES, ids=[case[0] for case in CASES])
def test_raster_function_through_the_service(
    stack: Stack, function_type: str, args: dict[str, Any], expected: tuple[str, int, int, int] | None
) -> None:
    source = raster_bytes(240, 200, bands=3, crs="EPSG:32632", bounds=ALPS_UTM32)
    task = _run(stack, stack.upload(source, "image/tiff"), function_type, args)
    assert task["status"] == "done", task["error"]
    download = requests.get(task["result_url"], timeout=30)
    if expected is None:
        # A JSON result: on the task itself and at result_url
        assert download.headers["Content-Type"] == "application/json"
        assert json.loads(download.content) == task["result"]
        assert (task["result"]["width"], task["result"]["height"]) == (240, 200)
        assert len(task["result"]["bands"]) == 3
        return
    crs, width, height, count = expected
    with open_raster_bytes(download.content) as result:
        assert result.crs == CRS.from_user_input(crs)
        assert result.count == count
        if width:
            assert (result.width, result.height) == (width, height)


@pytest.mark.parametrize(
    ("data", "content_type", "code", "reason"),
    [
        (b"II*\x00 not really a TIFF at all", "image/tiff", "unsupported_image", "could not be opened as a raster"),
        (image_bytes("GIF", 16, 16), "image/gif", "unsupported_image", "GIF files are not accepted as rasters"),
        (jpeg_bytes(40, 30), "image/jpeg", "not_georeferenced", "no coordinate reference system"),
    ],
)
def test_a_source_that_is_not_a_usable_raster_fails_with_the_reason(
    stack: Stack, data: bytes, content_type: str, code: str, reason: str
) -> None:
    task = _run(stack, stack.upload(data, content_type), "change_projection", {"target_srs": "EPSG:3857"})
    assert task["status"] == "failed"
    assert task["error"]["code"] == code
    assert reason in task["error"]["message"]
    assert task["result_url"] is None
    assert stack.queue_depth(stack.queue_url) == 0  # not retried


def test_a_bad_target_srs_is_refused_at_post_naming_the_field(stack: Stack) -> None:
    image_id = stack.upload(raster_bytes(16, 16), "image/tiff")
    response = stack.api.post(
        "/api/tasks/",
        json_body={"image_id": image_id, "function_type": "change_projection", "function_args": {"target_srs": "x"}},
    )
    assert response.status == 400
    assert [error["field"] for error in response.json()["errors"]] == ["function_args.target_srs"]
    assert stack.queue_depth(stack.queue_url) == 0


def test_a_json_result_too_large_for_the_task_record_is_only_at_result_url(stack: Stack) -> None:
    # Given a raster of 400 bands: its description is well over 64 KiB of JSON
    source = raster_bytes(8, 8, bands=400, crs="EPSG:32632", bounds=ALPS_UTM32, tiled=False)
    task = _run(stack, stack.upload(source, "image/tiff"), "raster_info", {})
    assert task["status"] == "done", task["error"]
    assert task["result"] is None
    described = json.loads(requests.get(task["result_url"], timeout=30).content)
    assert len(described["bands"]) == 400
