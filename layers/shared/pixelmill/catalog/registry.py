"""The one registry of functions: name → argument model, and the implementation
to load by name where functions run (titiler-style)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from pixelmill.catalog.base import FunctionArgs
from pixelmill.errors import FieldError, InvalidRequest, ProcessingError

if TYPE_CHECKING:
    from pixelmill.catalog.limits import Limits
    from pixelmill.transforms.base import ImageFunction

M = TypeVar("M", bound=FunctionArgs)


class FunctionInfo(BaseModel):
    """One catalog entry as GET /api/functions/ returns it."""

    name: str = Field(examples=["resize"])
    kind: str = Field(description="photo (Pillow) or raster (rasterio)", examples=["photo"])
    description: str
    arguments: dict[str, Any] = Field(description="JSON Schema of function_args")
    usable_in_urls: bool = Field(
        default=False, description="Whether signed image URLs (POST /api/urls/) can use it as a step"
    )


def field_errors(error: ValidationError, prefix: str) -> list[FieldError]:
    """pydantic's errors as one FieldError per bad field, with dotted paths under ``prefix``."""
    errors = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        errors.append(FieldError(path or prefix, item["msg"]))
    return errors


class FunctionRegistry:
    """Maps ``function_type`` names to their argument models and implementations.

    Built from ``{argument model: "module:Class" of its implementation}``. The
    argument models are imported with the registry (no imaging library); an
    implementation is imported on first use, by ``implementation`` or ``load``,
    which only the worker calls.
    """

    def __init__(self, functions: Mapping[type[FunctionArgs], str]) -> None:
        self._functions: dict[str, type[FunctionArgs]] = {}
        self._implementations: dict[str, str] = {}
        for cls, implementation in functions.items():
            if cls.name in self._functions:
                raise ValueError(f"function {cls.name!r} is registered twice")
            self._functions[cls.name] = cls
            self._implementations[cls.name] = implementation
        for cls in self._functions.values():
            cls.on_registry_closed(self)

    def __iter__(self) -> Iterator[type[FunctionArgs]]:
        return iter(sorted(self._functions.values(), key=lambda cls: cls.name))

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._functions)

    def get(self, name: str) -> type[FunctionArgs]:
        """The argument model registered as ``name``; KeyError if there is none."""
        return self._functions[name]

    def parse(self, name: str, args: dict[str, Any], limits: Limits | None = None) -> FunctionArgs:
        """Validate ``args`` for function ``name`` (no imaging library is loaded), and against
        ``limits`` when given (the work the arguments alone decide: ``FunctionArgs.check_arguments``).

        Raises InvalidRequest naming ``function_type`` for an unknown name,
        ``function_args.<field>`` for each bad argument, and ``function_args`` for
        arguments asking for work over a limit.
        """
        function = _validate(self._model(name), args)
        if limits is not None:
            try:
                function.check_arguments(limits)
            except ProcessingError as error:  # over a limit, or a step that cannot fit the one before
                raise InvalidRequest.for_field("function_args", error.message) from None
        return function

    def implementation(self, name: str) -> type[ImageFunction]:
        """The class that runs function ``name``, imported on first use; KeyError if there is none."""
        return _import(self._implementations[name])

    def load(self, name: str, args: dict[str, Any]) -> ImageFunction:
        """Validate ``args`` for function ``name`` into its runnable implementation
        (the worker's ``parse``); raises InvalidRequest as ``parse`` does."""
        self._model(name)
        function = _validate(self.implementation(name), args)
        function.check_with_libraries()
        return function

    def _model(self, name: str) -> type[FunctionArgs]:
        cls = self._functions.get(name)
        if cls is None:
            raise InvalidRequest.for_field(
                "function_type", f"unknown function {name!r}; one of: {', '.join(self.names())}"
            )
        return cls

    def catalog(self) -> list[FunctionInfo]:
        """Name, description and argument JSON Schema of every function."""
        return [
            FunctionInfo(
                name=cls.name,
                kind=cls.kind,
                description=(inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " "),
                arguments=cls.model_json_schema(),
                usable_in_urls=cls.usable_in_urls,
            )
            for cls in self
        ]


def _validate(cls: type[M], args: dict[str, Any]) -> M:
    try:
        return cls.model_validate(args)
    except ValidationError as error:
        errors = field_errors(error, "function_args")
        raise InvalidRequest("; ".join(f"{e.field}: {e.message}" for e in errors), errors) from None


@cache
def _import(path: str) -> type[ImageFunction]:
    """The class at ``module:Class``."""
    module, _, name = path.partition(":")
    cls: type[ImageFunction] = getattr(importlib.import_module(module), name)
    return cls
