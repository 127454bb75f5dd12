"""POST /api/tasks/ in the OpenAPI document: one request schema per function.

The API validates a task as ``TaskCreate`` and then its ``function_args`` with
the catalog (``registry.parse``). The document says the same thing precisely:
a union over ``function_type`` (an OpenAPI discriminator) of one schema per
function, whose ``function_args`` is that function's argument model. A client
generator then types ``function_args``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union, cast

from pydantic import Field, TypeAdapter, create_model

from pixelmill.catalog.registry import FunctionRegistry
from pixelmill.models.task import TaskCreate

REF_TEMPLATE = "#/components/schemas/{model}"


def task_create_union(registry: FunctionRegistry) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request schema of POST /api/tasks/ and the component schemas it refers to."""
    variants = [
        create_model(
            f"TaskCreate{cls.__name__}",
            __base__=TaskCreate,
            __doc__=f"A `{cls.name}` task.",
            function_type=(cast(Any, Literal)[cls.name], Field(examples=[cls.name])),
            function_args=(cls, Field(default_factory=dict)),
        )
        for cls in registry
    ]
    union: Any = Annotated[Union[tuple(variants)], Field(discriminator="function_type")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema(ref_template=REF_TEMPLATE)
    return schema, schema.pop("$defs")


def with_typed_tasks(openapi: dict[str, Any], registry: FunctionRegistry) -> dict[str, Any]:
    """``openapi`` with POST /api/tasks' body as the union over ``function_type``."""
    schema, components = task_create_union(registry)
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components)
    body = openapi["paths"]["/api/tasks"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = schema
    if '"#/components/schemas/TaskCreate"' not in json.dumps(openapi):
        schemas.pop("TaskCreate", None)  # the untyped form: the union replaced its only use
    return openapi
