"""pipeline: steps validated with their own models, chained sizes and formats."""

from __future__ import annotations

from typing import Any

import pytest

from pixelmill.catalog import registry
from pixelmill.catalog.pipeline import MAX_STEPS
from pixelmill.errors import ImageTooLarge, InvalidRequest, ProcessingError
from pixelmill.transforms.base import Limits
from pixelmill.transforms.pipeline import Pipeline
from tests.imagegen import (
    BLUE,
    GREEN,
    RED,
    animated_gif_bytes,
    close_to,
    decode,
    image_bytes,
    jpeg_bytes,
    png_header_bytes,
    sample_quadrants,
)


def step(function_type: str, **function_args: Any) -> dict[str, Any]:
    return {"function_type": function_type, "function_args": function_args}


def pipeline(*steps: dict[str, Any], **options: Any) -> Pipeline:
    function = registry.load("pipeline", {"steps": list(steps), **options})
    assert isinstance(function, Pipeline)
    return function


def error_fields(args: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("pipeline", args)
    return [error.field for error in caught.value.errors]


def test_steps_run_in_order(limits: Limits) -> None:
    # Given a JPEG, When resized, then its bottom-left quarter cut, then written as WebP
    function = pipeline(
        step("resize", width=200), step("crop", left=0, top=50, width=100, height=50), step("convert", format="webp")
    )
    rendered = function.run(jpeg_bytes(400, 200), limits)
    # Then the result is the blue quarter, as WebP
    image = decode(rendered.data)
    assert (image.format, image.size, rendered.content_type) == ("WEBP", (100, 50), "image/webp")
    assert all(close_to(colour, BLUE, tolerance=40) for colour in sample_quadrants(image).values())


def test_sizes_chain_through_the_steps() -> None:
    function = pipeline(step("rotate", angle=90), step("resize", width=100), step("thumbnail", size=80))
    assert function.output_size((400, 200)) == (40, 80)


def test_a_crop_is_checked_against_the_size_before_it_and_before_decoding(limits: Limits) -> None:
    # Given a 400×200 header turned to 200×400 by the first step, When a crop beyond 200 wide follows
    function = pipeline(step("rotate", angle=90), step("crop", left=150, top=0, width=100, height=100))
    with pytest.raises(ProcessingError) as caught:
        function.run(png_header_bytes(400, 200), limits)
    assert caught.value.code == "invalid_crop"


def test_the_last_convert_sets_format_and_options() -> None:
    function = pipeline(
        step("convert", format="png"), step("flip", direction="vertical"), step("convert", format="jpeg", quality=40)
    )
    assert function.output_format("PNG") == "JPEG"
    assert function.save_options("JPEG") == {"quality": 40, "optimize": True}
    plain = pipeline(step("flip", direction="vertical"))
    assert plain.output_format("BMP") == "PNG"
    assert plain.save_options("WEBP") == {"quality": 80, "method": 0}


def test_shrink_on_load_comes_from_the_first_step_and_keeps_sizes_exact(limits: Limits) -> None:
    # Given a large JPEG and a resize whose exact result the next step relies on
    function = pipeline(step("resize", width=333), step("crop", left=0, top=0, width=333, height=222))
    assert function.draft_size((3001, 2001)) == (333, 222)
    assert pipeline(step("flip", direction="vertical"), step("resize", width=10)).draft_size((3000, 2000)) is None
    # When run, Then the crop of the full predicted size fits exactly
    image = decode(function.run(jpeg_bytes(3001, 2001, quality=70), limits).data)
    assert image.size == (333, 222)


def test_common_options_belong_to_the_pipeline(limits: Limits) -> None:
    # Given a JPEG stored turned (orientation 6): upright its top-left is red, as stored it is green
    source = jpeg_bytes(60, 40, orientation=6)
    corner = step("crop", left=0, top=0, width=10, height=10)
    # When its top-left corner is cut with and without the pipeline's auto_orient
    upright = decode(pipeline(corner).run(source, limits).data)
    stored = decode(pipeline(corner, auto_orient=False).run(source, limits).data)
    # Then the option applied to the step
    assert close_to(sample_quadrants(upright)["top_left"], RED)
    assert close_to(sample_quadrants(stored)["top_left"], GREEN)


@pytest.mark.parametrize("option", ["auto_orient", "to_srgb", "keep_metadata"])
def test_common_options_on_a_step_are_refused_with_a_reason(option: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.load("pipeline", {"steps": [step("grayscale", **{option: True})]})
    [error] = caught.value.errors
    assert error.field == f"function_args.steps.0.grayscale.function_args.{option}"
    assert "option of the whole pipeline" in error.message


def test_a_bad_step_argument_names_its_place() -> None:
    fields = error_fields({"steps": [step("flip", direction="vertical"), step("resize", width=0)]})
    assert fields == ["function_args.steps.1.resize.function_args.width"]


def test_a_step_validates_with_its_own_rules() -> None:
    fields = error_fields({"steps": [step("resize")]})
    assert fields == ["function_args.steps.0.resize.function_args"]
    assert error_fields({"steps": [step("convert", format="jpeg", lossless=True)]}) == [
        "function_args.steps.0.convert.function_args.lossless"
    ]


@pytest.mark.parametrize("function_type", ["pipeline", "nonsense"])
def test_a_step_must_be_another_photo_function(function_type: str) -> None:
    assert error_fields({"steps": [step(function_type)]}) == ["function_args.steps.0"]


@pytest.mark.parametrize("count", [0, MAX_STEPS + 1])
def test_the_number_of_steps_is_bounded(count: int) -> None:
    assert error_fields({"steps": [step("grayscale")] * count}) == ["function_args.steps"]


def test_function_args_may_be_left_out_when_all_optional() -> None:
    function = registry.load("pipeline", {"steps": [{"function_type": "grayscale"}, {"function_type": "blur"}]})
    assert isinstance(function, Pipeline)
    assert len(function.steps) == 2


def test_the_schema_lists_every_step() -> None:
    schema = registry.get("pipeline").model_json_schema()
    mapping = schema["properties"]["steps"]["items"]["discriminator"]["mapping"]
    photo = {"blur", "convert", "crop", "flip", "grayscale", "resize", "rotate", "sharpen", "thumbnail"}
    assert photo <= set(mapping)
    assert "pipeline" not in mapping
    resize_arguments = schema["$defs"]["ResizeStepArguments"]["properties"]
    assert "width" in resize_arguments
    assert "auto_orient" not in resize_arguments
    assert "auto_orient" in schema["properties"]


def test_an_animation_runs_through_every_step(limits: Limits) -> None:
    function = pipeline(step("resize", width=10), step("grayscale"))
    rendered = function.run(animated_gif_bytes(20, 20, frames=3), limits)
    assert rendered.metadata == {"width": 10, "height": 10, "frames": 3}


def test_an_enormous_intermediate_step_is_refused_before_decoding(limits: Limits) -> None:
    # Given a pipeline whose middle would be 20000×20000 though its result is tiny
    function = pipeline(
        step("resize", width=20000, height=20000, fit="fill", upscale=True),
        step("rotate", angle=45),
        step("thumbnail", size=64),
    )

    # When it runs on a small image, then it is refused as too large, naming the intermediate image
    with pytest.raises(ImageTooLarge, match="intermediate image"):
        function.run(image_bytes("PNG", 100, 100), limits)
