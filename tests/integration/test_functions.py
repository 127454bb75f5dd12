"""Every photo function once through the whole service: API → queue → processor → S3,
the result downloaded from its result_url and decoded."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pixelmill.catalog import registry
from tests.imagegen import animated_gif_bytes, decode, decode_frames, jpeg_bytes, rgba_png_bytes
from tests.integration.conftest import Stack

# function_type, function_args, source (bytes, content type), expected (format, size, mode or None)
CASES: list[tuple[str, dict[str, Any], tuple[bytes, str], tuple[str, tuple[int, int], str | None]]] = [
    ("resize", {"width": 200}, (jpeg_bytes(400, 300), "image/jpeg"), ("JPEG", (200, 150), "RGB")),
    ("thumbnail", {"size": 64}, (jpeg_bytes(400, 300), "image/jpeg"), ("JPEG", (64, 48), "RGB")),
    (
        "crop",
        {"left": 10, "top": 20, "width": 50, "height": 40},
        (jpeg_bytes(400, 300), "image/jpeg"),
        ("JPEG", (50, 40), "RGB"),
    ),
    ("rotate", {"angle": 90}, (jpeg_bytes(400, 300), "image/jpeg"), ("JPEG", (300, 400), "RGB")),
    ("flip", {"direction": "horizontal"}, (jpeg_bytes(400, 300), "image/jpeg"), ("JPEG", (400, 300), "RGB")),
    ("grayscale", {}, (rgba_png_bytes(64, 48), "image/png"), ("PNG", (64, 48), "LA")),
    ("blur", {"radius": 3}, (jpeg_bytes(120, 90), "image/jpeg"), ("JPEG", (120, 90), "RGB")),
    ("sharpen", {}, (jpeg_bytes(120, 90), "image/jpeg"), ("JPEG", (120, 90), "RGB")),
    ("convert", {"format": "webp", "quality": 70}, (jpeg_bytes(120, 90), "image/jpeg"), ("WEBP", (120, 90), None)),
    ("convert", {"format": "jpeg"}, (rgba_png_bytes(64, 48), "image/png"), ("JPEG", (64, 48), "RGB")),
    (
        "pipeline",
        {
            "steps": [
                {"function_type": "resize", "function_args": {"width": 100}},
                {"function_type": "grayscale", "function_args": {}},
                {"function_type": "convert", "function_args": {"format": "png"}},
            ]
        },
        # stored sideways with EXIF orientation 6: the result is upright 400×300 scaled to 100 wide
        (jpeg_bytes(400, 300, orientation=6), "image/jpeg"),
        ("PNG", (100, 75), "L"),
    ),
]


def test_every_photo_function_is_covered() -> None:
    assert {case[0] for case in CASES} == {cls.name for cls in registry if cls.kind == "photo"}


@pytest.mark.parametrize(
    ("function_type", "args", "source", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_function_through_the_service(
    stack: Stack,
    function_type: str,
    args: dict[str, Any],
    source: tuple[bytes, str],
    expected: tuple[str, tuple[int, int], str | None],
) -> None:
    # Given an uploaded source and a task for the function
    image_id = stack.upload(*source)
    created = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": function_type, "function_args": args}
    )
    assert created.status == 200, created.body

    # When the processor runs it
    assert stack.process_batch().succeeded == 1

    # Then the result downloads as the expected image
    task = stack.api.get(f"/api/tasks/{created.json()['task_id']}/").json()
    assert task["status"] == "done", task["error"]
    result = decode(requests.get(task["result_url"], timeout=30).content)
    fmt, size, mode = expected
    assert (result.format, result.size) == (fmt, size)
    if mode is not None:
        assert result.mode == mode


def test_animated_gif_keeps_its_frames_through_the_service(stack: Stack) -> None:
    image_id = stack.upload(animated_gif_bytes(40, 30, frames=4), "image/gif")
    created = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": "resize", "function_args": {"width": 20}}
    ).json()

    stack.process_batch()

    task = stack.api.get(f"/api/tasks/{created['task_id']}/").json()
    frames = decode_frames(requests.get(task["result_url"], timeout=30).content)
    assert len(frames) == 4
    assert all(frame.size == (20, 15) for frame in frames)
