"""Each function's role allows every AWS call its code makes: the calls are recorded while the
real handlers serve a task's whole life, and each is checked against the function's policy in
template.yaml (its resources are checked by tests/infrastructure/test_template.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.template import Template
from tests.imagegen import image_bytes
from tests.integration.conftest import Stack

FUNCTIONS = {
    "api": "ApiFunction",
    "processor": "ProcessorFunction",
    "sweeper": "SweeperFunction",
    "render": "RenderFunction",
}
# The function whose handler runs now: one at a time here, and seen from the threads s3transfer
# uploads and downloads in (a ContextVar would not be).
ACTING: dict[str, str | None] = {"function": None}

# API operations whose IAM action has another name (S3's HEAD is a GetObject, a multipart upload
# is PutObject, a listing ListBucket, a batch delete DeleteObject on each key); every other
# operation is the action of the same name.
ACTION_OF = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:AbortMultipartUpload": "s3:AbortMultipartUpload",
}


def _granted(function: str) -> set[str]:
    statements = [
        statement
        for policy in Template.load().resources[function]["Properties"].get("Policies", [])
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
    ]
    return {action for s in statements if s["Effect"] == "Allow" for action in _as_list(s["Action"])}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture
def calls(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, set[str]]]:
    """The AWS operations each function's handler makes (``s3:HeadObject`` …), from now on."""
    made: dict[str, set[str]] = {}

    def record(model: Any, **_: Any) -> None:
        function = ACTING["function"]
        if function is not None:
            made.setdefault(function, set()).add(f"{model.service_model.endpoint_prefix}:{model.name}")

    # The stores' clients are made on first use, after this, from the default session.
    session = boto3._get_default_session()
    session.events.register("before-call", record)
    for attribute, function in FUNCTIONS.items():
        module = stack.api._handler if attribute == "api" else getattr(stack, attribute)
        monkeypatch.setattr(module, "lambda_handler", _acting_as(function, module.lambda_handler))
    yield made
    session.events.unregister("before-call", record)


def _acting_as(function: str, handler: Any) -> Any:
    def wrapped(event: dict[str, Any], context: Any) -> Any:
        ACTING["function"] = function
        try:
            return handler(event, context)
        finally:
            ACTING["function"] = None

    return wrapped


def test_every_call_a_function_makes_is_an_action_its_role_allows(stack: Stack, calls: dict[str, set[str]]) -> None:
    # Given a task's whole life through the handlers: upload, create, list, read, process, sweep, delete
    image_id = stack.upload(image_bytes("PNG", 32, 24), "image/png")
    assert stack.api.get(f"/api/images/{image_id}/").status == 200
    task = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": "resize", "function_args": {"width": 8}}
    ).json()
    for query in ({}, {"status": ["queued"]}, {"image_id": [image_id]}):
        assert stack.api.get("/api/tasks/", query=query).status == 200
    assert stack.process_batch().succeeded == 1
    assert stack.api.get(f"/api/tasks/{task['task_id']}/").json()["status"] == "done"
    stack.sweep()
    # And image URLs signed, rendered, then served from the cache: of the upload, and of the result
    for source in (image_id, f"res-{task['task_id']}"):
        signed = stack.api.post("/api/urls/", json_body={"image_id": source, "steps": [{"function_type": "grayscale"}]})
        assert signed.status == 200, signed.body
        assert [stack.get_image_url(signed.json()["path"])["statusCode"] for _ in range(2)] == [200, 200]
    # And the task deleted with its result and the result's cached render
    assert stack.api.delete(f"/api/tasks/{task['task_id']}/").status == 204

    # Then every call each function made is allowed by its role
    assert set(calls) == set(FUNCTIONS.values())
    for function, operations in calls.items():
        actions = {ACTION_OF.get(operation, operation) for operation in operations}
        assert actions <= _granted(function), f"{function} calls {sorted(actions - _granted(function))}"
