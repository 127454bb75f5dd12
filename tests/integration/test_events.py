"""The event fixtures in events/ (used by `sam local invoke`) work with the real handlers,
and the events the local tooling builds have exactly their shape."""

from __future__ import annotations

import json

import boto3

from infra.events import LocalContext, api_gateway_event, load_event, sqs_event
from tests.integration.conftest import Stack


def test_built_api_event_has_the_fixture_shape() -> None:
    fixture = load_event("api-create-task.json")
    built = api_gateway_event("POST", "/api/tasks", resource="/api/tasks", headers={"Host": ["x"]}, body="{}")

    assert set(built) == set(fixture)
    assert set(built["requestContext"]) == set(fixture["requestContext"])


def test_built_sqs_event_has_the_fixture_shape(stack: Stack) -> None:
    fixture = load_event("sqs-task-batch.json")
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"task_id": "01JD0000000000000000000000"}))
    messages = sqs.receive_message(
        QueueUrl=stack.queue_url, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]

    built = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q")

    assert set(built["Records"][0]) == set(fixture["Records"][0])
    assert set(fixture["Records"][0]["attributes"]) <= set(built["Records"][0]["attributes"])


def test_api_fixture_reaches_the_create_task_route(stack: Stack) -> None:
    # The fixture names an image that was never uploaded: the route answers 400 on image_id.
    result = stack.api._handler.lambda_handler(
        load_event("api-create-task.json"), LocalContext(function_name="ApiFunction")
    )

    assert result["statusCode"] == 400
    assert json.loads(result["body"])["errors"][0]["field"] == "image_id"


def test_sqs_fixture_for_an_unknown_task_is_consumed_quietly(stack: Stack) -> None:
    # A task deleted before its message arrives: nothing to do, nothing reported failed.
    result = stack.processor.lambda_handler(
        load_event("sqs-task-batch.json"), LocalContext(function_name="ProcessorFunction")
    )

    assert result == {"batchItemFailures": []}
