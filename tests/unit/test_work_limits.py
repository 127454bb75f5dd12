"""Bounded work per task: tiny inputs cannot ask for unbounded work, and an
over-limit task fails at once with a code naming the limit and the numbers."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from PIL import Image

from pixelmill.catalog import registry
from pixelmill.errors import InvalidRequest, LimitExceeded
from pixelmill.settings import Settings
from pixelmill.transforms import Limits
from pixelmill.transforms._photo import memory_needed
from tests.imagegen import float_tiff_header_bytes, image_bytes
from tests.rastergen import raster_bytes


def step(function_type: str, **function_args: Any) -> dict[str, Any]:
    return {"function_type": function_type, "function_args": function_args}


# The reported case: ran for 38–46 s and ended done.
UPSCALE_THEN_BLUR = {"steps": [step("resize", width=7000, upscale=True), *[step("blur", radius=100)] * 19]}


def refused(name: str, args: dict[str, Any], source: bytes, limits: Limits) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        registry.load(name, args).run(source, limits)
    return caught.value


def test_a_tiny_png_upscaled_then_blurred_19_times_is_refused_before_decoding(limits: Limits) -> None:
    # Given the default bounds and a 16×16 PNG
    limits = dataclasses.replace(limits, max_output_pixels=50_000_000, max_task_work_pixels=500_000_000)

    # When the pipeline runs, Then it is refused for its summed work, with the numbers
    error = refused("pipeline", UPSCALE_THEN_BLUR, image_bytes("PNG", 16, 16), limits)
    assert error.code == "task_work_limit"
    assert "980,000,256 pixels" in error.message  # the source, then 20 images of 7000×7000
    assert "500,000,000" in error.message
    assert "MaxTaskWorkPixels" in error.message


def test_the_same_steps_within_the_bound_run(limits: Limits) -> None:
    args = {"steps": [step("resize", width=64, upscale=True), *[step("blur", radius=3)] * 19]}
    rendered = registry.load("pipeline", args).run(image_bytes("PNG", 16, 16), limits)
    assert rendered.metadata == {"width": 64, "height": 64, "frames": 1}


def test_a_filter_radius_larger_than_the_image_is_refused(limits: Limits) -> None:
    error = refused("blur", {"radius": 100}, image_bytes("PNG", 16, 16), limits)
    assert error.code == "filter_radius_limit"
    assert "radius 100" in error.message
    assert "16×16" in error.message
    # The radius is judged against the image the step applies to: after an upscale it fits
    args = {"steps": [step("resize", width=200, upscale=True), step("sharpen", radius=50)]}
    assert registry.load("pipeline", args).run(image_bytes("PNG", 16, 16), limits).metadata == {
        "width": 200,
        "height": 200,
        "frames": 1,
    }


def _tiff(mode: str, size: int) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (size, size), 1).save(buffer, "TIFF")
    return buffer.getvalue()


def test_memory_is_counted_in_decoded_bytes_not_pixels(limits: Limits) -> None:
    # Given the same pixels as 8-bit and as float32, and a memory bound between their costs
    eight_bit = memory_needed("L", (1000, 1000), [(256, 256)], 1)
    float32 = memory_needed("F", (1000, 1000), [(256, 256)], 1)
    assert float32 > eight_bit
    limits = dataclasses.replace(limits, task_memory_bytes=(eight_bit + float32) // 2)

    # When each is thumbnailed, Then the 8-bit one runs and the float32 one is refused, with the numbers
    assert registry.load("thumbnail", {}).run(_tiff("L", 1000), limits).metadata is not None
    error = refused("thumbnail", {}, _tiff("F", 1000), limits)
    assert error.code == "task_memory_limit"
    assert "1000×1000 pixels of mode F at 4 bytes each" in error.message
    assert "TaskMemoryMiB" in error.message


def test_the_reported_100_mp_float32_tiff_thumbnail_is_refused_before_decoding_at_the_defaults() -> None:
    # Given the default limits and a TIFF claiming 10000×10000 float32 pixels (peaked at 1.2-1.7 GB)
    source = float_tiff_header_bytes(10_000, 10_000)

    # When thumbnailed, Then it is refused from its header, for its decoded bytes (its pixels are allowed)
    error = refused("thumbnail", {}, source, Limits.from_settings(Settings()))
    assert error.code == "task_memory_limit"
    assert "10000×10000 pixels of mode F at 4 bytes each" in error.message


def test_the_api_refuses_what_the_arguments_alone_decide(limits: Limits) -> None:
    # A box fixed by the arguments, then 19 blurs of it: over the work bound before any source is seen
    args = {"steps": [step("resize", width=7000, height=7000, fit="fill", upscale=True), *[step("blur")] * 19]}
    limits = dataclasses.replace(limits, max_task_work_pixels=500_000_000)
    with pytest.raises(InvalidRequest) as caught:
        registry.parse("pipeline", args, dataclasses.replace(limits, max_output_pixels=50_000_000))
    assert [error.field for error in caught.value.errors] == ["function_args"]
    assert "980,000,000 pixels" in caught.value.message

    # A crop larger than the output bound
    with pytest.raises(InvalidRequest, match="over the limit of 20,000,000"):
        registry.parse("crop", {"width": 10_000, "height": 10_000}, limits)

    # What depends on the source passes the API (the worker decides)
    registry.parse("pipeline", UPSCALE_THEN_BLUR, limits)


def test_resample_scale_100_is_refused_at_the_api(limits: Limits) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.parse("resample", {"scale": 100}, limits)
    assert "scale 100 would make 10,000 times" in caught.value.message
    assert "MaxRasterGrowth" in caught.value.message
    registry.parse("resample", {"scale": 4}, limits)


def test_resample_scale_100_on_a_256_geotiff_is_refused_in_the_worker(limits: Limits) -> None:
    # Given the task reached the worker (e.g. created before the bound): 25600×25600 would be 655 MP
    function = registry.load("resample", {"scale": 100})

    # When run, Then it is refused before anything is written
    with pytest.raises(LimitExceeded) as caught:
        function.run(raster_bytes(256, 256), limits)
    assert caught.value.code == "raster_growth_limit"
    assert "25600×25600 pixels, 10,000 times the 256×256 source's" in caught.value.message


def test_a_finer_resolution_is_held_to_the_same_growth_bound(limits: Limits) -> None:
    # The source covers 1° with 256 pixels a side; 0.0001° pixels would be ~1,500 times as many
    with pytest.raises(LimitExceeded) as caught:
        registry.load("resample", {"resolution": 0.0001}).run(raster_bytes(256, 256), limits)
    assert caught.value.code == "raster_growth_limit"
