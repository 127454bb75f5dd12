"""pipeline: several photo functions in one task (its arguments; the implementation is ``pixelmill.transforms.pipeline``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, create_model
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from pixelmill.catalog.photo import PhotoArgs, Size

MAX_STEPS = 20

COMMON_OPTIONS = ("auto_orient", "to_srgb", "keep_metadata")
"""Options that belong to the whole pipeline, not to one of its steps."""


class PipelineStep(BaseModel):
    """One step of a pipeline: a photo function and its arguments.

    ``on_registry_closed`` makes one subclass per photo function, whose
    ``function_type`` is that function's name and whose ``function_args`` its
    argument model without the common options.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    function_type: str
    function_args: PhotoArgs


if TYPE_CHECKING:
    from pixelmill.catalog.registry import FunctionRegistry

    AnyStep = PipelineStep
    """At run time: the discriminated union of every step model, built once every function is registered."""


def _refuse_common_option(value: object, info: ValidationInfo) -> None:
    raise PydanticCustomError(
        "pipeline_option",
        "{option} is an option of the whole pipeline: set it next to steps, not in a step",
        {"option": info.field_name},
    )


_RefusedOption = SkipJsonSchema[Annotated[None, BeforeValidator(_refuse_common_option)]]


def _step_model(function: type[PhotoArgs]) -> type[PipelineStep]:
    """The step model of ``function``: ``function_type`` its name, ``function_args``
    its arguments with the common options refused (they are the pipeline's)."""
    refused: dict[str, Any] = dict.fromkeys(COMMON_OPTIONS, (_RefusedOption, None))
    arguments = create_model(
        f"{function.__name__}StepArguments",
        __base__=function,
        __doc__=function.__doc__,
        __module__=__name__,
        **refused,
    )
    tag = cast(Any, Literal)[function.name]  # a Literal built at run time
    step: type[PipelineStep] = create_model(
        f"{function.__name__}Step",
        __base__=PipelineStep,
        __module__=__name__,
        function_type=(tag, ...),
        function_args=(arguments, Field(default_factory=dict, validate_default=True)),
    )
    return step


class Pipeline(PhotoArgs):
    """Apply several photo functions in order, in one task.

    Each step is `{function_type, function_args}` of another photo function.
    The options `auto_orient`, `to_srgb` and `keep_metadata` are the
    pipeline's, not the steps'. The result has the format of the last
    `convert` step, or the source's.
    """

    name: ClassVar[str] = "pipeline"
    usable_in_pipeline: ClassVar[bool] = False
    usable_in_urls: ClassVar[bool] = False  # an image URL's steps already chain
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "steps": [
                        {"function_type": "resize", "function_args": {"width": 1200}},
                        {"function_type": "sharpen", "function_args": {}},
                        {"function_type": "convert", "function_args": {"format": "webp", "quality": 75}},
                    ]
                }
            ]
        }
    )

    steps: list[AnyStep] = Field(
        min_length=1,
        max_length=MAX_STEPS,
        description="The functions to apply, in order: each {function_type, function_args}.",
    )

    @classmethod
    def on_registry_closed(cls, registry: FunctionRegistry) -> None:
        """Build the union of step models from every registered photo function."""
        step_models = [
            _step_model(function)
            for function in registry
            if issubclass(function, PhotoArgs) and function.usable_in_pipeline
        ]
        union: Any = Annotated[Union[tuple(step_models)], Field(discriminator="function_type")]  # noqa: UP007
        # Built on first use, as every catalog model (defer_build): the name resolves from this module.
        globals()["AnyStep"] = union

    @property
    def functions(self) -> Sequence[PhotoArgs]:
        """The steps' functions, in order."""
        return [step.function_args for step in self.steps]

    def output_size(self, size: Size) -> Size:
        """``size`` through every step."""
        for function in self.functions:
            size = function.output_size(size)
        return size

    def step_sizes(self, size: Size) -> list[Size]:
        """What every step makes, each from the one before: each is a full image in memory
        and work of its own, so they are summed against the work bound."""
        sizes: list[Size] = []
        for function in self.functions:
            made = function.step_sizes(size)
            sizes.extend(made)
            size = made[-1]
        return sizes

    def sizes_from_arguments(self) -> list[Size]:
        """From the first step whose arguments fix its result's size (a resize to a box,
        a crop), what that step and every later one make."""
        sizes: list[Size] = []
        for function in self.functions:
            made = function.step_sizes(sizes[-1]) if sizes else function.sizes_from_arguments()
            sizes.extend(made)
        return sizes

    def draft_size(self, size: Size) -> Size | None:
        """The first step's: later steps work on its exact result."""
        return self.functions[0].draft_size(size)

    def output_format(self, source_format: str) -> str:
        """The last ``convert`` step's format, or the one for the source's."""
        fmt = source_format
        for function in self.functions:
            fmt = function.output_format(fmt)
        return fmt

    def save_options(self, fmt: str) -> dict[str, Any]:
        """The last ``convert`` step's options, or the format's defaults."""
        converts = [function for function in self.functions if function.sets_output_format]
        return converts[-1].save_options(fmt) if converts else super().save_options(fmt)
