"""The committed OpenAPI document is the one the API serves (a stale one fails here)."""

from __future__ import annotations

import json

from infra.openapi import DOCUMENT, generate


def test_committed_openapi_document_is_current() -> None:
    # `make openapi` rewrites it after an API change.
    assert DOCUMENT.read_text() == generate()


def test_document_describes_problems_not_the_resolvers_422() -> None:
    document = json.loads(generate())

    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue  # /img/...: RenderFunction's own answers, below
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert responses["500"]["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
    assert "204" in document["paths"]["/api/tasks/{task_id}"]["delete"]["responses"]
    assert "404" in document["paths"]["/api/tasks/{task_id}"]["get"]["responses"]
    assert "400" in document["paths"]["/api/tasks"]["post"]["responses"]
    assert "Problem" in document["components"]["schemas"]


def test_posting_a_task_is_a_union_over_function_type_of_each_functions_arguments() -> None:
    # Given the catalog and the document's request body of POST /api/tasks
    from pixelmill.catalog import registry

    document = json.loads(generate())
    schemas = document["components"]["schemas"]
    body = document["paths"]["/api/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    # Then it is one schema per function, told apart by function_type (an OpenAPI discriminator)
    assert body["discriminator"]["propertyName"] == "function_type"
    assert set(body["discriminator"]["mapping"]) == set(registry.names())
    assert len(body["oneOf"]) == len(registry.names())
    for name, reference in body["discriminator"]["mapping"].items():
        variant = schemas[reference.rsplit("/", 1)[1]]
        # And each names its function and types function_args with that function's own arguments
        assert variant["properties"]["function_type"]["const"] == name
        arguments = schemas[variant["properties"]["function_args"]["$ref"].rsplit("/", 1)[1]]
        assert set(arguments["properties"]) == set(registry.get(name).model_fields)
        assert variant["required"] == ["image_id", "function_type"]


def test_document_describes_image_urls_and_signing_them() -> None:
    paths = json.loads(generate())["paths"]
    image = paths["/img/{signature}/{steps}/{owner}/{image_id}"]["get"]
    assert image["security"] == []  # the URL's HMAC, not SigV4
    assert set(image["responses"]) == {"200", "400", "403", "404", "413", "415", "422", "500"}
    assert "image/*" in image["responses"]["200"]["content"]
    assert {"400", "403", "404"} <= set(paths["/api/urls"]["post"]["responses"])
