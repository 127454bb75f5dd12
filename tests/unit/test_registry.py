"""The function registry: catalog, parsing, and the registry's own rules."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from pixelmill.catalog import FunctionArgs, FunctionRegistry, registry
from pixelmill.errors import InvalidRequest
from pixelmill.transforms import ImageFunction

PHOTO_FUNCTIONS = {
    "resize",
    "thumbnail",
    "crop",
    "rotate",
    "flip",
    "grayscale",
    "blur",
    "sharpen",
    "convert",
    "pipeline",
}


def test_every_photo_function_is_registered() -> None:
    assert set(registry.names()) >= PHOTO_FUNCTIONS


def test_the_catalog_describes_every_function() -> None:
    # When the catalog is listed
    catalog = {entry.name: entry for entry in registry.catalog()}
    # Then each photo function has a one-paragraph description and a JSON Schema of its arguments
    for name in PHOTO_FUNCTIONS:
        entry = catalog[name]
        assert entry.kind == "photo"
        assert entry.description
        assert "\n" not in entry.description
        assert entry.arguments["type"] == "object"
        assert entry.arguments["additionalProperties"] is False
    # And the whole catalog is JSON
    json.dumps([entry.model_dump() for entry in catalog.values()])


def test_every_argument_is_described() -> None:
    for name in PHOTO_FUNCTIONS:
        for field, schema in registry.get(name).model_json_schema()["properties"].items():
            assert schema.get("description"), f"{name}.{field} has no description"


@pytest.mark.parametrize("name", sorted(PHOTO_FUNCTIONS))
def test_the_catalog_examples_are_valid_arguments(name: str) -> None:
    # Given the examples the catalog shows, Then each is valid arguments
    examples = registry.get(name).model_json_schema()["examples"]
    assert examples
    for example in examples:
        registry.parse(name, example)


def test_an_unknown_function_is_refused_on_function_type() -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.parse("sepia", {})
    [error] = caught.value.errors
    assert error.field == "function_type"
    assert "resize" in error.message


def test_unknown_arguments_are_refused_by_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.parse("grayscale", {"amount": 3})
    assert [error.field for error in caught.value.errors] == ["function_args.amount"]


def test_parsed_functions_are_immutable() -> None:
    function = registry.parse("blur", {"radius": 3})
    with pytest.raises(ValueError, match="frozen"):
        function.radius = 4  # type: ignore[attr-defined]


class _Sample(FunctionArgs):
    """A sample."""

    name: ClassVar[str] = "sample"


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="twice"):
        FunctionRegistry({_Sample: "one:Sample", type("Again", (_Sample,), {}): "two:Sample"})


def test_every_entry_loads_an_implementation_of_its_own_arguments() -> None:
    for name in registry.names():
        implementation = registry.implementation(name)
        assert issubclass(implementation, registry.get(name))
        assert issubclass(implementation, ImageFunction)
        assert implementation.name == name


def test_load_validates_like_parse() -> None:
    function = registry.load("resize", {"width": "800"})
    assert isinstance(function, registry.implementation("resize"))
    assert function.model_dump() == registry.parse("resize", {"width": "800"}).model_dump()
    with pytest.raises(InvalidRequest) as caught:
        registry.load("resize", {})
    assert [error.field for error in caught.value.errors] == ["function_args"]
