"""The local stack's own machinery on a small template of its own: the API Gateway's proxy
events, function processes that crash or hang, SQS partial batches and S3 notifications.

The function is ``local_functions/echo``: it records every event it is called with."""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
import requests

from infra.local.stack import LocalStack, StackOptions
from infra.template import Template
from tests.e2e.conftest import free_port

ECHO_DIR = Path(__file__).parent / "local_functions" / "echo"


def echo_template(log: Path) -> Template:
    return Template(
        {
            "Resources": {
                "Inbox": {"Type": "AWS::S3::Bucket"},
                "Letters": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}},
                "Failures": {"Type": "AWS::SQS::Queue"},
                "Api": {
                    "Type": "AWS::Serverless::Api",
                    "Properties": {"StageName": "test", "Cors": {"AllowOrigin": "'https://app.example'"}},
                },
                "EchoFunction": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {
                        "CodeUri": str(ECHO_DIR.relative_to(Path(__file__).parents[2])),
                        "Handler": "app.handler",
                        "Timeout": 3,
                        "EventInvokeConfig": {"MaximumRetryAttempts": 0},
                        "DeadLetterQueue": {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["Failures", "Arn"]}},
                        "Environment": {"Variables": {"ECHO_LOG": str(log), "INBOX": {"Ref": "Inbox"}}},
                        "Events": {
                            "Item": {
                                "Type": "Api",
                                "Properties": {
                                    "RestApiId": {"Ref": "Api"},
                                    "Path": "/items/{item_id}",
                                    "Method": "get",
                                },
                            },
                            "Anything": {
                                "Type": "Api",
                                "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/any/{rest+}", "Method": "any"},
                            },
                            "Letters": {
                                "Type": "SQS",
                                "Properties": {"Queue": {"Fn::GetAtt": ["Letters", "Arn"]}, "BatchSize": 3},
                            },
                            "Uploads": {
                                "Type": "S3",
                                "Properties": {
                                    "Bucket": {"Ref": "Inbox"},
                                    "Events": "s3:ObjectCreated:*",
                                    "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "incoming/"}]}},
                                },
                            },
                        },
                    },
                },
            }
        }
    )


class Echo:
    """The running stack and what its function has been called with."""

    def __init__(self, stack: LocalStack, log: Path) -> None:
        self.stack = stack
        self.log = log

    @property
    def url(self) -> str:
        return self.stack.api_url

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def wait_for(self, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [event for event in self.events() if predicate(event)]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"no such event in {self.events()}")


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Echo]:
    log = tmp_path_factory.mktemp("echo") / "events.jsonl"
    lines: list[str] = []
    stack = LocalStack(
        StackOptions(api_port=free_port(), aws_port=free_port()),
        lambda message, **fields: lines.append(f"{message} {fields}"),
        template=echo_template(log),
    )
    saved = dict(os.environ)  # the stack points this process's boto3 at its emulator
    stack.start()
    try:
        yield Echo(stack, log)
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


def test_a_request_becomes_the_proxy_event_api_gateway_sends(echo: Echo) -> None:
    response = requests.get(
        f"{echo.url}/items/a%20b?tag=1&tag=2&empty=",
        headers={"X-Many": "first", "Accept": "application/json"},
        timeout=30,
    )

    assert response.status_code == 200
    assert response.headers["X-Seen"] == "one, two"
    event = response.json()["event"]
    assert event["httpMethod"] == "GET"
    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/a b"
    assert event["pathParameters"] == {"item_id": "a b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["1", "2"], "empty": [""]}
    assert event["queryStringParameters"] == {"tag": "2", "empty": ""}
    assert event["headers"]["X-Many"] == "first"
    assert event["multiValueHeaders"]["Accept"] == ["application/json"]
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["requestContext"]["stage"] == "test"
    assert event["requestContext"]["resourcePath"] == "/items/{item_id}"
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert 0 < response.json()["remaining_ms"] <= 3000


def test_a_kept_alive_connection_serves_request_after_request(echo: Echo) -> None:
    with requests.Session() as session:
        paths = [session.get(f"{echo.url}/items/{n}", timeout=30).json()["event"]["path"] for n in range(3)]

    assert paths == ["/items/0", "/items/1", "/items/2"]


def test_binary_bodies_arrive_base64_encoded_and_text_bodies_as_text(echo: Echo) -> None:
    binary = bytes(range(256))

    sent_binary = requests.post(f"{echo.url}/any/deep/path", data=binary, timeout=30).json()["event"]
    sent_text = requests.put(f"{echo.url}/any/x", json={"a": 1}, timeout=30).json()["event"]

    assert sent_binary["isBase64Encoded"] is True
    assert base64.b64decode(sent_binary["body"]) == binary
    assert sent_binary["pathParameters"] == {"rest": "deep/path"}
    assert sent_text["isBase64Encoded"] is False
    assert json.loads(sent_text["body"]) == {"a": 1}


def test_what_no_route_declares_is_answered_by_the_gateway(echo: Echo) -> None:
    missing = requests.post(f"{echo.url}/items/1", timeout=30)
    preflight = requests.options(f"{echo.url}/items/1", timeout=30)

    assert missing.status_code == 403  # API Gateway's own answer when the template sets no GatewayResponses
    assert missing.json() == {"message": "Missing Authentication Token"}
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"


def test_a_crashing_function_is_a_502_and_the_next_call_gets_a_fresh_process(echo: Echo) -> None:
    crashed = requests.get(f"{echo.url}/any/crash", timeout=30)
    after = requests.get(f"{echo.url}/items/1", timeout=30)

    assert crashed.status_code == 502
    assert after.status_code == 200


def test_a_function_running_past_its_timeout_is_stopped_and_the_client_gets_a_504(echo: Echo) -> None:
    started = time.monotonic()
    hung = requests.get(f"{echo.url}/any/hang", timeout=30)

    assert hung.status_code == 504
    assert time.monotonic() - started < 10  # the template's Timeout is 3 s
    assert requests.get(f"{echo.url}/items/1", timeout=30).status_code == 200


def test_sqs_records_reported_as_failed_stay_on_the_queue_and_the_rest_are_deleted(echo: Echo) -> None:
    sqs = boto3.client("sqs")
    url = echo.stack.template.physical_ids["Letters"]

    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    batches = echo.wait_for(lambda e: any(r.get("body") == "fail" for r in e.get("Records", [])))
    record = next(r for r in batches[0]["Records"] if r["body"] == "fail")
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":pixelmill-letters")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if (
            attributes["ApproximateNumberOfMessages"] == "0"
            and attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
        ):
            break
        time.sleep(0.2)
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # the failed one, back after 60 s


def test_uploads_under_the_filter_prefix_invoke_the_function_with_the_s3_event(echo: Echo) -> None:
    s3 = boto3.client("s3")
    bucket = echo.stack.template.physical_ids["Inbox"]

    s3.upload_fileobj(io.BytesIO(b"hello"), bucket, "incoming/a photo.jpg")
    s3.put_object(Bucket=bucket, Key="elsewhere/b.jpg", Body=b"ignored")

    (event,) = echo.wait_for(lambda e: "Records" in e and e["Records"][0].get("eventSource") == "aws:s3")
    (record,) = event["Records"]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == bucket
    # URL-encoded, as S3 sends it (moto also encodes the slash; S3 leaves it)
    assert record["s3"]["object"]["key"] in ("incoming/a+photo.jpg", "incoming%2Fa+photo.jpg")
    assert unquote_plus(record["s3"]["object"]["key"]) == "incoming/a photo.jpg"
    time.sleep(3)
    s3_events = [e for e in echo.events() if "Records" in e and e["Records"][0].get("eventSource") == "aws:s3"]
    assert len(s3_events) == 1  # neither the other prefix nor S3's test event reached the function


def test_an_s3_event_the_function_fails_on_ends_in_its_dead_letter_queue(echo: Echo) -> None:
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    bucket = echo.stack.template.physical_ids["Inbox"]

    s3.put_object(Bucket=bucket, Key="incoming/please-fail.txt", Body=b"x")

    deadline = time.monotonic() + 20
    messages: list[Any] = []
    while time.monotonic() < deadline and not messages:
        messages = sqs.receive_message(
            QueueUrl=echo.stack.template.physical_ids["Failures"], WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
    (message,) = messages
    assert json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"].endswith("please-fail.txt")
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "RuntimeError"
