"""Integration fixtures: the template's resources on moto.mock_aws, and the real
handlers called with real-shaped API Gateway, SQS and S3 events."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from infra.event_source import BatchOutcome, deliver_batch
from infra.events import LocalContext, api_gateway_event, function_url_event, load_event
from infra.local.gateway import Route
from infra.provision import LocalResources, provision
from infra.template import Template
from pixelmill.dal import get_stores
from pixelmill.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def load_handler(function: str) -> ModuleType:
    """Import ``functions/<function>/app.py`` under a unique module name (each is ``app``)."""
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"pixelmill_handler_{function}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def api_routes(template: Template) -> list[str]:
    """The API paths the template declares for ApiFunction, e.g. ``/api/tasks/{task_id}``."""
    events = template.resources["ApiFunction"]["Properties"]["Events"]
    return sorted({event["Properties"]["Path"] for event in events.values() if event["Type"] == "Api"})


@dataclass
class ApiResponse:
    """What API Gateway would send back to the client."""

    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def iam_user(name: str, user_id: str) -> dict[str, str]:
    """``requestContext.identity`` as API Gateway fills it for a call signed by IAM user ``name``."""
    return {
        "accountId": "123456789012",
        "caller": user_id,
        "user": user_id,
        "userArn": f"arn:aws:iam::123456789012:user/{name}",
        "accessKey": f"AKIA{user_id[4:20]}",
    }


ALICE = iam_user("alice", "AIDAALICE000000000001")
BOB = iam_user("bob", "AIDABOB00000000000002")


class ApiClient:
    """Calls the real ApiFunction handler the way API Gateway does, for a caller IAM authorization let in."""

    def __init__(self, handler: Any, routes: Sequence[str], identity: Mapping[str, str] = ALICE) -> None:
        self._handler = handler
        self._routes = routes
        self.identity = identity

    @property
    def tenant(self) -> str:
        """The caller's tenant (its IAM unique id)."""
        return self.identity["user"]

    def as_caller(self, identity: Mapping[str, str]) -> ApiClient:
        """The same API, called by someone else."""
        return ApiClient(self._handler, self._routes, identity)

    def _match(self, path: str) -> tuple[str, dict[str, str]]:
        for route in self._routes:
            match = Route(route, "ANY", "ApiFunction").pattern.match(path)  # matched as the local gateway does
            if match:
                return route, match.groupdict()
        return "/{proxy+}", {"proxy": path.lstrip("/")}

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        query: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        resource, parameters = self._match(path)
        all_headers = {"Host": "api.example.test", "X-Forwarded-Proto": "https", **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        event = api_gateway_event(
            method,
            path,
            resource=resource,
            path_parameters=parameters or None,
            query=query,
            headers={name: [value] for name, value in all_headers.items()},
            body=body,
            identity=self.identity,
        )
        result = self._handler.lambda_handler(event, LocalContext(function_name="ApiFunction", timeout_seconds=29))
        headers_out = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers_out[name.lower()] = ", ".join(values)
        return ApiResponse(result["statusCode"], headers_out, result.get("body") or "")

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)


@dataclass
class Stack:
    """The template's resources on moto plus the handlers."""

    resources: LocalResources
    api: ApiClient
    processor: ModuleType
    sweeper: ModuleType
    ingest: ModuleType
    render: ModuleType

    @property
    def queue_url(self) -> str:
        return self.resources.template.physical_ids["TaskQueue"]

    @property
    def dlq_url(self) -> str:
        return self.resources.template.physical_ids["TaskDeadLetterQueue"]

    @property
    def bucket(self) -> str:
        return self.resources.template.physical_ids["ImagesBucket"]

    def process_batch(self, batch_size: int = 5) -> BatchOutcome:
        """One delivery from the task queue to ProcessorFunction."""
        return deliver_batch(
            self.processor.lambda_handler, self.queue_url, function_name="ProcessorFunction", batch_size=batch_size
        )

    def sweep(self) -> Any:
        """One scheduled run of SweeperFunction, with the scheduled event `sam local invoke` uses."""
        return self.sweeper.lambda_handler(
            load_event("schedule-sweep.json"), LocalContext(function_name="SweeperFunction", timeout_seconds=120)
        )

    def notify(self, event: dict[str, Any]) -> Any:
        """One S3 notification delivered to IngestFunction, as S3 invokes it."""
        return self.ingest.lambda_handler(event, LocalContext(function_name="IngestFunction", timeout_seconds=60))

    def get_image_url(self, path: str, accept: str | None = "image/webp,*/*", method: str = "GET") -> dict[str, Any]:
        """RenderFunction's answer to ``method path`` (``/img/...``), called as a function URL calls it."""
        headers = {"host": ["d111111abcdef8.cloudfront.net"], **({"accept": [accept]} if accept else {})}
        event = function_url_event(method, path, headers=headers)
        result: dict[str, Any] = self.render.lambda_handler(event, LocalContext(function_name="RenderFunction"))
        return result

    def upload(self, data: bytes, content_type: str = "image/jpeg", api: ApiClient | None = None) -> str:
        """Upload ``data`` as a client (``api``, by default alice's) does: POST /api/images/, then the presigned POST."""
        response = (api or self.api).post("/api/images/", json_body={"content_type": content_type})
        assert response.status == 200, response.body
        upload = response.json()
        posted = requests.post(
            upload["upload"]["url"], data=upload["upload"]["fields"], files={"file": ("image", data)}, timeout=30
        )
        assert posted.status_code in (200, 201, 204), posted.text
        image_id: str = upload["image_id"]
        return image_id

    def create_task(self, image_id: str, function_type: str, function_args: dict[str, Any]) -> dict[str, Any]:
        """POST /api/tasks/ as the client does; the task as answered."""
        body = {"image_id": image_id, "function_type": function_type, "function_args": function_args}
        response = self.api.post("/api/tasks/", json_body=body)
        assert response.status == 200, response.body
        task: dict[str, Any] = response.json()
        return task

    def task(self, task_id: str) -> dict[str, Any]:
        """GET /api/tasks/{task_id}/: the task as the client sees it."""
        task: dict[str, Any] = self.api.get(f"/api/tasks/{task_id}/").json()
        return task

    def queue_depth(self, url: str) -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    # mock_aws does not intercept while AWS_ENDPOINT_URL is set: calls would go to that endpoint.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        template = Template.load()
        resources = provision(template)
        for function in ("ApiFunction", "ProcessorFunction", "SweeperFunction", "IngestFunction", "RenderFunction"):
            for name, value in resources.environment(function).items():
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        get_stores.cache_clear()
        yield Stack(
            resources,
            ApiClient(load_handler("api"), api_routes(template)),
            load_handler("processor"),
            load_handler("sweeper"),
            load_handler("ingest"),
            load_handler("render"),
        )
    get_settings.cache_clear()
    get_stores.cache_clear()
