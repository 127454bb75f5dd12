"""The one registry of functions: name → argument model (titiler-style)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from pixelmill.errors import FieldError, InvalidRequest, ProcessingError
from pixelmill.transforms.base import ImageFunction, Limits

F = TypeVar("F", bound=type[ImageFunction])


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
    """Maps ``function_type`` names to their argument models."""

    def __init__(self) -> None:
        self._functions: dict[str, type[ImageFunction]] = {}
        self._closed = False

    def register(self, cls: F) -> F:
        """Add a function class (use as a decorator); its ``name`` must be new."""
        if self._closed:
            raise RuntimeError("the registry is closed")
        if cls.name in self._functions:
            raise ValueError(f"function {cls.name!r} is registered twice")
        self._functions[cls.name] = cls
        return cls

    def close(self) -> None:
        """Freeze the registry and let functions that refer to others bind to it."""
        if not self._closed:
            self._closed = True
            for cls in self._functions.values():
                cls.on_registry_closed(self)

    def __iter__(self) -> Iterator[type[ImageFunction]]:
        return iter(sorted(self._functions.values(), key=lambda cls: cls.name))

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._functions)

    def get(self, name: str) -> type[ImageFunction]:
        """The class registered as ``name``; KeyError if there is none."""
        return self._functions[name]

    def parse(self, name: str, args: dict[str, Any], limits: Limits | None = None) -> ImageFunction:
        """Validate ``args`` for function ``name``, and against ``limits`` when given
        (the work the arguments alone decide: see ``ImageFunction.check_arguments``).

        Raises InvalidRequest naming ``function_type`` for an unknown name and
        ``function_args.<field>`` for each bad argument, ``function_args`` for
        arguments asking for work over a limit.
        """
        cls = self._functions.get(name)
        if cls is None:
            raise InvalidRequest.for_field(
                "function_type", f"unknown function {name!r}; one of: {', '.join(self.names())}"
            )
        try:
            function = cls.model_validate(args)
        except ValidationError as error:
            errors = field_errors(error, "function_args")
            raise InvalidRequest("; ".join(f"{e.field}: {e.message}" for e in errors), errors) from None
        if limits is not None:
            try:
                function.check_arguments(limits)
            except ProcessingError as error:  # over a limit, or a step that cannot fit the one before
                raise InvalidRequest.for_field("function_args", error.message) from None
        return function

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
