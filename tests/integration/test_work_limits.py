"""Work bounds through the real handlers: refused at the API where the arguments
decide, failed at once in the worker otherwise, with a code naming the limit."""

from __future__ import annotations

from typing import Any

from tests.imagegen import image_bytes
from tests.integration.conftest import Stack
from tests.rastergen import raster_bytes


def _post_task(stack: Stack, image_id: str, function_type: str, args: dict[str, Any]) -> Any:
    return stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": function_type, "function_args": args}
    )


def test_the_upscale_then_blur_pipeline_fails_at_once_naming_the_work_bound(stack: Stack) -> None:
    # Given the reported pipeline on a 16×16 PNG (its size is only known once the source is)
    steps = [{"function_type": "resize", "function_args": {"width": 7000, "upscale": True}}]
    steps += [{"function_type": "blur", "function_args": {"radius": 100}}] * 19
    response = _post_task(stack, stack.upload(image_bytes("PNG", 16, 16), "image/png"), "pipeline", {"steps": steps})
    assert response.status == 200, response.body

    # When the worker gets it
    outcome = stack.process_batch()

    # Then it failed for good without being retried, with the bound and the numbers
    assert outcome.succeeded == 1
    task = stack.api.get(f"/api/tasks/{response.json()['task_id']}/").json()
    assert task["status"] == "failed"
    assert task["error"]["code"] == "task_work_limit"
    assert "980,000,256" in task["error"]["message"]
    assert "500,000,000" in task["error"]["message"]


def test_resample_scale_100_is_a_400_naming_the_field(stack: Stack) -> None:
    image_id = stack.upload(raster_bytes(256, 256), "image/tiff")
    response = _post_task(stack, image_id, "resample", {"scale": 100})
    assert response.status == 400, response.body
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == ["function_args"]
    assert "MaxRasterGrowth" in problem["detail"]
