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
