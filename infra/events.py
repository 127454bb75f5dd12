"""Lambda events and contexts shaped exactly as AWS sends them.

The local stack and the tests build API Gateway REST proxy events and SQS
batches here; ``events/*.json`` (used by ``sam local invoke``) are the same
shapes, and a test keeps the two in step.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


# The fields of requestContext.identity that API Gateway's IAM authorization fills.
IAM_IDENTITY_FIELDS = ("accountId", "caller", "user", "userArn", "accessKey")


def load_event(name: str) -> dict[str, Any]:
    """One of the fixtures in ``events/`` (e.g. ``api-create-task.json``)."""
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return data


def api_gateway_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, Sequence[str]] | None = None,
    body: bytes | str | None = None,
    stage: str = "v1",
    source_ip: str = "127.0.0.1",
    context_path: str | None = None,
    domain_name: str | None = None,
    identity: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event for one request, as API Gateway sends it to Lambda.

    Binary bodies (anything that is not UTF-8 text) are base64-encoded with
    ``isBase64Encoded`` set, as API Gateway does for binary media types.
    ``requestContext.path`` is the path the client called: ``/<stage><path>``
    on the execute-api host (the default), the bare path where no stage shows
    in the URL (a custom domain, or the local gateway). ``requestContext.domainName`` is
    the API's domain (``domain_name``), whatever Host header the client sent. ``identity``
    overrides fields of ``requestContext.identity``: the caller IAM authorization found
    (``user``, ``caller``, ``userArn``, ``accessKey``, ``accountId``).
    """
    event = copy.deepcopy(load_event("api-create-task.json"))
    multi_headers = {name: list(values) for name, values in (headers or {}).items()}
    multi_query = {name: list(values) for name, values in (query or {}).items()}
    encoded = False
    text: str | None
    if isinstance(body, bytes):
        try:
            text = body.decode()
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    else:
        text = body
    now = time.time()
    event.update(
        body=text,
        isBase64Encoded=encoded,
        resource=resource,
        path=path,
        httpMethod=method.upper(),
        headers={name: values[-1] for name, values in multi_headers.items()} or None,
        multiValueHeaders=multi_headers or None,
        queryStringParameters={name: values[-1] for name, values in multi_query.items()} or None,
        multiValueQueryStringParameters=multi_query or None,
        pathParameters=dict(path_parameters) if path_parameters else None,
        stageVariables=None,
    )
    context = event["requestContext"]
    context.update(
        resourcePath=resource,
        httpMethod=method.upper(),
        path=context_path if context_path is not None else f"/{stage}{path}",
        stage=stage,
        **({"domainName": domain_name} if domain_name else {}),
        requestId=str(uuid.uuid4()),
        requestTimeEpoch=int(now * 1000),
        requestTime=time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
    )
    # The fixture's caller is for `sam local invoke`; here the caller is who signed, if anyone.
    context["identity"].update(dict.fromkeys(IAM_IDENTITY_FIELDS), **(identity or {}))
    context["identity"]["sourceIp"] = source_ip
    return event


def function_url_event(
    method: str,
    raw_path: str,
    *,
    headers: Mapping[str, Sequence[str]] | None = None,
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
    domain: str = "localhost",
) -> dict[str, Any]:
    """A Lambda function URL event (payload format 2.0) for one request, as Lambda sends it.

    ``raw_path`` keeps its percent-encoding and its query, split off as ``rawQueryString``;
    header names are lower case and repeated headers joined with commas.
    """
    path, _, query = raw_path.partition("?")
    now = time.time()
    joined = {name.lower(): ",".join(values) for name, values in (headers or {}).items()}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """An SQS batch event from messages as ``ReceiveMessage`` returns them
    (asked with ``MessageSystemAttributeNames=["All"]`` and ``MessageAttributeNames=["All"]``)."""
    records = []
    for message in messages:
        attributes = message.get("MessageAttributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in attributes.items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


@dataclass
class LocalContext:
    """The LambdaContext a handler gets, with a real countdown to its timeout."""

    function_name: str
    timeout_seconds: float = 300.0
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "us-east-1"
    account: str = "123456789012"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        """The ARN Lambda would report."""
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        """The log group Lambda would write to."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """A log stream name of Lambda's form."""
        return time.strftime("%Y/%m/%d/[$LATEST]") + self.aws_request_id.replace("-", "")

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before this invocation would time out."""
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))
