"""The service end to end on the local stack: real HTTP to the local API Gateway, real presigned
POSTs and downloads to the emulator, the real functions in their own processes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from tests.e2e.conftest import RunningStack, archived_upload, redelivered_at_once, start_stack
from tests.imagegen import jpeg_bytes

FINISHED = {"done", "failed", "cancelled"}

# One task per photo function, with what its result must be for a 64×48 source.
PHOTO_CASES: dict[str, tuple[dict[str, Any], tuple[int, int], str]] = {
    "resize": ({"width": 32}, (32, 24), "JPEG"),
    "thumbnail": ({"size": 16}, (16, 12), "JPEG"),
    "crop": ({"left": 8, "top": 4, "width": 20, "height": 10}, (20, 10), "JPEG"),
    "rotate": ({"angle": 90, "expand": True}, (48, 64), "JPEG"),
    "flip": ({"direction": "horizontal"}, (64, 48), "JPEG"),
    "grayscale": ({}, (64, 48), "JPEG"),
    "blur": ({"radius": 2}, (64, 48), "JPEG"),
    "sharpen": ({}, (64, 48), "JPEG"),
    "convert": ({"format": "png"}, (64, 48), "PNG"),
    "pipeline": (
        {"steps": [{"function_type": "resize", "function_args": {"width": 32}}, {"function_type": "grayscale"}]},
        (32, 24),
        "JPEG",
    ),
}


def upload(stack: RunningStack, data: bytes, content_type: str = "image/jpeg") -> str:
    """POST /api/images/, then the presigned POST to the emulator, as a browser would."""
    started = stack.session.post(f"{stack.api}/images/", json={"content_type": content_type}, timeout=30)
    assert started.status_code == 200, started.text
    form = started.json()["upload"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("image", data, content_type)}, timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    image_id: str = started.json()["image_id"]
    return image_id


def create(stack: RunningStack, image_id: str, function_type: str, args: dict[str, Any]) -> dict[str, Any]:
    body = {"image_id": image_id, "function_type": function_type, "function_args": args}
    response = stack.session.post(f"{stack.api}/tasks/", json=body, timeout=30)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


def wait_all(stack: RunningStack, task_ids: list[str], timeout: float = 90) -> dict[str, dict[str, Any]]:
    """Poll until every task has finished."""
    deadline = time.monotonic() + timeout
    finished: dict[str, dict[str, Any]] = {}
    while len(finished) < len(task_ids):
        assert time.monotonic() < deadline, f"unfinished: {set(task_ids) - set(finished)}"
        for task_id in task_ids:
            if task_id not in finished:
                task = stack.session.get(f"{stack.api}/tasks/{task_id}/", timeout=30).json()
                if task["status"] in FINISHED:
                    finished[task_id] = task
        time.sleep(0.3)
    return finished


def test_every_photo_function_runs_end_to_end(local_stack: RunningStack) -> None:
    # Given the catalog the running API publishes
    catalog = local_stack.session.get(f"{local_stack.api}/functions/", timeout=30).json()
    photo_functions = {entry["name"] for entry in catalog if entry["kind"] == "photo"}
    assert photo_functions == set(PHOTO_CASES), "every photo function needs an end-to-end case"
    image_id = upload(local_stack, jpeg_bytes(64, 48))

    # When one task per function is created
    tasks = {create(local_stack, image_id, name, args)["task_id"]: name for name, (args, _, _) in PHOTO_CASES.items()}
    finished = wait_all(local_stack, list(tasks))

    # Then each is done, and its result downloads and decodes to the expected image
    for task_id, task in finished.items():
        name = tasks[task_id]
        assert task["status"] == "done", (name, task["error"])
        assert task["progress"] == 100
        _, size, image_format = PHOTO_CASES[name]
        result = requests.get(task["result_url"], timeout=30)
        assert result.status_code == 200, name
        with Image.open(io.BytesIO(result.content)) as decoded:
            assert (decoded.size, decoded.format) == (size, image_format), name


def test_corrupt_upload_ends_failed_with_a_reason(local_stack: RunningStack) -> None:
    image_id = upload(local_stack, b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10)

    task = create(local_stack, image_id, "resize", {"width": 10})
    (finished,) = wait_all(local_stack, [task["task_id"]]).values()

    assert finished["status"] == "failed"
    assert finished["error"]["code"]
    assert finished["error"]["message"]
    assert finished["result_url"] is None


def test_bad_arguments_are_a_400_naming_the_field_and_create_nothing(local_stack: RunningStack) -> None:
    image_id = upload(local_stack, jpeg_bytes(16, 16))

    response = local_stack.session.post(
        f"{local_stack.api}/tasks/",
        json={"image_id": image_id, "function_type": "resize", "function_args": {"width": "wide"}},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["function_args.width"]
    listed = local_stack.session.get(f"{local_stack.api}/tasks/", params={"image_id": image_id}, timeout=30)
    assert listed.json() == []


def test_a_poison_message_ends_in_the_dlq_with_its_task_failed(local_stack: RunningStack) -> None:
    # Given an image whose bytes cannot be read back (archived to Glacier: every GET is refused)
    image_id = archived_upload(local_stack, jpeg_bytes(16, 16))
    with redelivered_at_once(local_stack) as sqs:
        dlq_url = sqs.get_queue_url(QueueName="pixelmill-taskdeadletterqueue")["QueueUrl"]
        # When a task is created for it
        task = create(local_stack, image_id, "resize", {"width": 8})
        (finished,) = wait_all(local_stack, [task["task_id"]]).values()

        # Then after the last allowed delivery the task is failed with the reason ...
        assert finished["status"] == "failed"
        assert finished["error"]["code"] == "retries_exhausted"
        assert "InvalidObjectState" in finished["error"]["message"]
        # ... and its message reaches the dead-letter queue, where it stays for inspection
        deadline = time.monotonic() + 30
        bodies: list[str] = []
        while time.monotonic() < deadline and not any(task["task_id"] in body for body in bodies):
            received = sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1
            )
            bodies += [message["Body"] for message in received.get("Messages", [])]
        assert any(task["task_id"] in body for body in bodies)


def test_delete_removes_the_task_and_its_result(local_stack: RunningStack) -> None:
    image_id = upload(local_stack, jpeg_bytes(64, 48))
    task = create(local_stack, image_id, "grayscale", {})
    (done,) = wait_all(local_stack, [task["task_id"]]).values()
    assert requests.get(done["result_url"], timeout=30).status_code == 200

    deleted = local_stack.session.delete(f"{local_stack.api}/tasks/{task['task_id']}/", timeout=30)

    assert deleted.status_code == 204
    assert local_stack.session.get(f"{local_stack.api}/tasks/{task['task_id']}/", timeout=30).status_code == 404
    assert requests.get(done["result_url"], timeout=30).status_code in (
        403,
        404,
    )  # S3 says 403 to a URL without ListBucket
    s3 = local_stack.client("s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    assert local_stack.alice is not None
    assert (
        s3.list_objects_v2(Bucket=bucket, Prefix=f"results/{local_stack.alice.user_id}/res-{task['task_id']}").get(
            "KeyCount", 0
        )
        == 0
    )


def test_cancel_while_queued_or_running_leaves_nothing_behind(local_stack: RunningStack) -> None:
    # Given a slow task (a lossless AVIF of a large image) that may be queued or running
    image_id = upload(local_stack, jpeg_bytes(1600, 1200))
    task = create(local_stack, image_id, "convert", {"format": "avif", "quality": 100})

    # When it is cancelled at once
    deleted = local_stack.session.delete(f"{local_stack.api}/tasks/{task['task_id']}/", timeout=30)

    # Then it is gone, and once the worker is done with it no result exists
    assert deleted.status_code == 204
    assert local_stack.session.get(f"{local_stack.api}/tasks/{task['task_id']}/", timeout=30).status_code == 404
    s3 = local_stack.client("s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sqs = local_stack.client("sqs")
        queue_url = sqs.get_queue_url(QueueName="pixelmill-taskqueue")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        if attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
            break
        time.sleep(0.5)
    assert local_stack.alice is not None
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"results/{local_stack.alice.user_id}/res-{task['task_id']}")
    assert listing.get("KeyCount", 0) == 0


def test_listing_pages_through_the_link_header(local_stack: RunningStack) -> None:
    image_id = upload(local_stack, jpeg_bytes(16, 16))
    created = [create(local_stack, image_id, "flip", {"direction": "vertical"})["task_id"] for _ in range(5)]

    seen: list[str] = []
    response = local_stack.session.get(
        f"{local_stack.api}/tasks/", params={"image_id": image_id, "limit": "2"}, timeout=30
    )
    pages = 0
    while True:
        assert response.status_code == 200
        pages += 1
        seen += [task["task_id"] for task in response.json()]
        following = response.links.get("next", {}).get("url")
        if not following:
            break
        assert following.startswith(local_stack.api), following  # the link points back at this API
        response = local_stack.session.get(following, timeout=30)

    assert seen == sorted(created, reverse=True)  # newest first, each once
    assert pages == 3


def test_the_gateway_answers_unknown_routes_and_preflights_itself(local_stack: RunningStack) -> None:
    # An unknown route gets what API Gateway answers an unsigned call: it does not say which routes exist
    missing = local_stack.session.get(f"{local_stack.api}/nothing-here", timeout=30)
    preflight = requests.options(
        f"{local_stack.api}/tasks/",
        headers={"Origin": "http://example.test", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )

    assert missing.status_code == 403
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert missing.json()["status"] == 403
    assert preflight.status_code == 200  # browsers cannot sign a preflight
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def run_pixelmill(
    stack: RunningStack, home: Path, *arguments: str, signed: bool = True
) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, signing with alice's credentials in its environment (none if not ``signed``)."""
    assert stack.alice is not None
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(stack.alice.environment() if signed else {})
    environment["AWS_CONFIG_FILE"] = environment["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "none")
    return subprocess.run(
        [sys.executable, "-m", "pixelmill_cli", "--api", stack.api, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )


def test_cli_run_uploads_processes_and_downloads(local_stack: RunningStack, tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(jpeg_bytes(120, 80))
    assert local_stack.alice is not None

    def pixelmill(*arguments: str, signed: bool = True) -> subprocess.CompletedProcess[str]:
        return run_pixelmill(local_stack, tmp_path, *arguments, signed=signed)

    ran = pixelmill("run", str(source), "resize", "--arg", "width=60", "--out", str(tmp_path / "small.jpg"))
    refused = pixelmill("run", str(source), "resize", "--arg", "width=wide")
    unsigned = pixelmill("tasks", signed=False)

    assert ran.returncode == 0, ran.stderr
    with Image.open(tmp_path / "small.jpg") as result:
        assert result.size == (60, 40)
    assert "resize: done 100%" in ran.stderr  # the progress, drawn as lines when not on a terminal
    assert refused.returncode == 1
    assert "function_args.width" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert unsigned.returncode == 1
    assert "no AWS credentials" in unsigned.stderr

    # And a result is run on again by its id, with no upload, and downloaded by its task id
    task_id = re.search(r"task ([0-9A-Z]{26})", ran.stdout)
    assert task_id is not None, ran.stdout
    task = local_stack.session.get(f"{local_stack.api}/tasks/{task_id.group(1)}/", timeout=30).json()
    again = pixelmill("run", task["new_image_id"], "grayscale", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    [newest] = local_stack.session.get(f"{local_stack.api}/tasks/", params={"limit": "1"}, timeout=30).json()
    assert (newest["image_id"], newest["function_type"]) == (task["new_image_id"], "grayscale")
    downloaded = pixelmill("download", newest["task_id"], "--out", str(tmp_path / "gray.jpg"))
    assert downloaded.returncode == 0, downloaded.stderr
    with Image.open(tmp_path / "gray.jpg") as result:
        assert (result.size, result.mode) == ((60, 40), "L")
    version = pixelmill("--version", signed=False)
    assert (version.returncode, version.stdout.split()[0]) == (0, "pixelmill")


def test_data_is_kept_across_a_restart(tmp_path: Path) -> None:
    # Given a stack keeping its data, with a finished task
    data = tmp_path / "data"
    first = start_stack(tmp_path / "first.log", "--data-dir", str(data))
    try:
        image_id = upload(first, jpeg_bytes(64, 48))
        task = create(first, image_id, "thumbnail", {"size": 32})
        (done,) = wait_all(first, [task["task_id"]]).values()
        assert done["status"] == "done"
    finally:
        assert first.stop() == 0, first.log()

    # When it is stopped and started again on the same ports
    # (its IAM users kept too: alice's keys still sign, for the same tenant)
    second = start_stack(
        tmp_path / "second.log",
        "--data-dir",
        str(data),
        api_port=first.api_port,
        aws_port=first.aws_port,
        caller=first.alice,
    )
    try:
        # Then the task, its image and its result are all still there
        again = second.session.get(f"{second.api}/tasks/{task['task_id']}/", timeout=30).json()
        assert again["status"] == "done"
        assert second.session.get(f"{second.api}/images/{image_id}/", timeout=30).status_code == 200
        result = requests.get(again["result_url"], timeout=30)
        with Image.open(io.BytesIO(result.content)) as decoded:
            assert decoded.size == (32, 24)
        # And the restored stack still works
        follow_up = create(second, image_id, "grayscale", {})
        assert wait_all(second, [follow_up["task_id"]])[follow_up["task_id"]]["status"] == "done"
    finally:
        assert second.stop() == 0, second.log()


def test_the_stack_recovers_when_the_emulator_is_reset(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "stack.log")
    try:
        # When the emulator loses everything
        assert requests.post(f"{stack.aws_endpoint}/moto-api/reset", timeout=30).status_code == 200

        # Then the event source notices, the template's resources come back (the banner's user too),
        # and tasks run again
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            names = [b["Name"] for b in stack.client("s3").list_buckets().get("Buckets", [])]
            if names:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the resources were not recreated")
        stack.act_as(stack.banner_caller())
        image_id = upload(stack, jpeg_bytes(32, 32))
        task = create(stack, image_id, "flip", {"direction": "horizontal"})
        assert wait_all(stack, [task["task_id"]])[task["task_id"]]["status"] == "done"
    finally:
        assert stack.stop() == 0, stack.log()


def test_the_seed_example_change_projection_to_web_mercator_runs_on_the_local_stack(local_stack: RunningStack) -> None:
    from rasterio.crs import CRS  # import rasterio only where a raster is needed

    from tests.rastergen import open_raster_bytes, raster_bytes

    image_id = upload(local_stack, raster_bytes(120, 100, bands=3), "image/tiff")

    task = create(local_stack, image_id, "change_projection", {"target_srs": "EPSG:3857"})
    (finished,) = wait_all(local_stack, [task["task_id"]]).values()

    assert finished["status"] == "done", finished["error"]
    with open_raster_bytes(requests.get(finished["result_url"], timeout=30).content) as result:
        assert result.crs == CRS.from_epsg(3857)
        assert result.count == 3


def test_heic_and_jpeg_2000_sources_run_end_to_end_and_their_bombs_are_refused(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    from rasterio.crs import CRS

    from tests.imagegen import heic_bytes, heic_header_bytes, image_bytes, jp2_header_bytes
    from tests.rastergen import open_raster_bytes, sentinel2_like_jp2

    # Given a phone's HEIC (stored turned, orientation 6), a JPEG 2000 photo, a Sentinel-2-like band
    # and, of each format, a small file whose header claims 400 MP or more
    sentinel2_like_jp2(tmp_path / "B04.jp2", 600, 500)
    cases: dict[str, tuple[bytes, str, str, dict[str, Any]]] = {
        "heic": (heic_bytes(64, 48, orientation=6), "image/heic", "resize", {"width": 32}),
        "jp2": (image_bytes("JPEG2000", 64, 48), "image/jp2", "thumbnail", {"size": 16}),
        "band": ((tmp_path / "B04.jp2").read_bytes(), "image/jp2", "to_cog", {"target_srs": "EPSG:3857"}),
        "heic bomb": (heic_header_bytes(20_000, 20_000), "image/heic", "thumbnail", {}),
        "jp2 bomb": (jp2_header_bytes(50_000, 50_000), "image/jp2", "thumbnail", {}),
        "band bomb": (jp2_header_bytes(50_000, 50_000), "image/jp2", "to_cog", {}),
    }
    # When each is uploaded with its content type and processed
    tasks = {
        create(local_stack, upload(local_stack, data, content_type), function_type, args)["task_id"]: name
        for name, (data, content_type, function_type, args) in cases.items()
    }
    finished = {tasks[task_id]: task for task_id, task in wait_all(local_stack, list(tasks)).items()}

    # Then the photos are done upright in the expected format, the band is a web-mercator COG
    results = {name: requests.get(finished[name]["result_url"], timeout=30).content for name in ("heic", "jp2", "band")}
    assert all(finished[name]["status"] == "done" for name in results), finished
    with Image.open(io.BytesIO(results["heic"])) as heic:
        assert (heic.format, heic.size) == ("JPEG", (32, 24))
    with Image.open(io.BytesIO(results["jp2"])) as jp2:
        assert (jp2.format, jp2.size) == ("PNG", (16, 12))
    with open_raster_bytes(results["band"]) as band:
        assert (band.crs, band.dtypes) == (CRS.from_epsg(3857), ("uint16",))
    # And the bombs failed as too large, without being decoded
    for name in ("heic bomb", "jp2 bomb", "band bomb"):
        assert finished[name]["status"] == "failed"
        assert finished[name]["error"]["code"] == "image_too_large", finished[name]["error"]
