"""Work bounds through the real handlers: refused at the API where the arguments
decide, failed at once in the worker otherwise, with a code naming the limit."""

from __future__ import annotations

from tests.imagegen import image_bytes
from tests.integration.conftest import Stack
from tests.rastergen import raster_bytes


def test_the_upscale_then_blur_pipeline_fails_at_once_naming_the_work_bound(stack: Stack) -> None:
    # Given the reported pipeline on a 16×16 PNG (its size is only known once the source is)
    steps = [{"function_type": "resize", "function_args": {"width": 7000, "upscale": True}}]
    steps += [{"function_type": "blur", "function_args": {"radius": 100}}] * 19
    created = stack.create_task(stack.upload(image_bytes("PNG", 16, 16), "image/png"), "pipeline", {"steps": steps})

    # When the worker gets it
    outcome = stack.process_batch()

    # Then it failed for good without being retried, with the bound and the numbers
    assert outcome.succeeded == 1
    task = stack.task(created["task_id"])
    assert task["status"] == "failed"
    assert task["error"]["code"] == "task_work_limit"
    assert "980,000,256" in task["error"]["message"]
    assert "500,000,000" in task["error"]["message"]


def test_resample_scale_100_is_a_400_naming_the_field(stack: Stack) -> None:
    image_id = stack.upload(raster_bytes(256, 256), "image/tiff")
    body = {"image_id": image_id, "function_type": "resample", "function_args": {"scale": 100}}
    response = stack.api.post("/api/tasks/", json_body=body)
    assert response.status == 400, response.body
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == ["function_args"]
    assert "MaxRasterGrowth" in problem["detail"]
