"""Upload triggers on the local stack: a file written to incoming/ becomes a task with no API call."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import requests
from PIL import Image

from tests.e2e.conftest import RunningStack
from tests.imagegen import jpeg_bytes


def incoming_image_id(name: str) -> str:
    """The image id of ``incoming/<name>`` (README: Upload triggers)."""
    return "in-" + base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def tasks_of(stack: RunningStack, image_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    """The tasks of ``image_id`` once one exists and all have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks: list[dict[str, Any]] = stack.session.get(
            f"{stack.api}/tasks/", params={"image_id": image_id}, timeout=30
        ).json()
        if tasks and all(task["status"] in ("done", "failed", "cancelled") for task in tasks):
            return tasks
        time.sleep(0.3)
    raise AssertionError(f"no finished task for {image_id}")


def drop(stack: RunningStack, name: str, body: bytes, **extra: Any) -> str:
    """Put ``body`` at ``incoming/<name>`` with plain S3 calls as alice (no API call); returns its image id."""
    s3 = stack.client("s3", stack.alice)
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "image" in b["Name"])
    s3.put_object(Bucket=bucket, Key=f"incoming/{name}", Body=body, **extra)
    return incoming_image_id(name)


def test_a_file_dropped_into_incoming_thumbnails_becomes_a_finished_thumbnail(local_stack: RunningStack) -> None:
    # When a photo is put under incoming/thumbnails/ (a name with a space, as people name files)
    image_id = drop(local_stack, "thumbnails/my photo.jpg", jpeg_bytes(640, 480), ContentType="image/jpeg")

    # Then the default rule gives one thumbnail task, which finishes with a 256 px result
    (task,) = tasks_of(local_stack, image_id)
    assert task["function_type"] == "thumbnail"
    assert task["status"] == "done", task["error"]
    with Image.open(io.BytesIO(requests.get(task["result_url"], timeout=30).content)) as result:
        assert max(result.size) == 256


def test_an_upload_started_with_a_function_runs_it_when_the_file_arrives(local_stack: RunningStack) -> None:
    # Given an upload started with the function to run
    started = local_stack.session.post(
        f"{local_stack.api}/images/",
        json={"content_type": "image/jpeg", "function_type": "resize", "function_args": {"width": 40}},
        timeout=30,
    )
    assert started.status_code == 200, started.text
    form = started.json()["upload"]

    # When the file is uploaded with the presigned POST
    posted = requests.post(
        form["url"], data=form["fields"], files={"file": ("a.jpg", jpeg_bytes(80, 60), "image/jpeg")}, timeout=30
    )
    assert posted.status_code in (200, 201, 204), posted.text

    # Then the task appears by itself and finishes
    (task,) = tasks_of(local_stack, started.json()["image_id"])
    assert (task["function_type"], task["function_args"], task["status"]) == ("resize", {"width": 40}, "done")
    with Image.open(io.BytesIO(requests.get(task["result_url"], timeout=30).content)) as result:
        assert result.size == (40, 30)


def test_bad_metadata_gives_a_failed_task_saying_why(local_stack: RunningStack) -> None:
    metadata = {"function-type": "resize", "function-args": "not json"}
    image_id = drop(local_stack, "odd.jpg", jpeg_bytes(16, 16), Metadata=metadata)

    (task,) = tasks_of(local_stack, image_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == "invalid_metadata"
    assert "function-args" in task["error"]["message"]


def test_a_geotiff_dropped_into_incoming_web_mercator_is_reprojected(local_stack: RunningStack) -> None:
    from rasterio.crs import CRS

    from tests.rastergen import open_raster_bytes, raster_bytes

    image_id = drop(local_stack, "web-mercator/scene.tif", raster_bytes(64, 48), ContentType="image/tiff")

    (task,) = tasks_of(local_stack, image_id)
    assert (task["function_type"], task["status"]) == ("change_projection", "done"), task["error"]
    with open_raster_bytes(requests.get(task["result_url"], timeout=30).content) as result:
        assert result.crs == CRS.from_epsg(3857)
