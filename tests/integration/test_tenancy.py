"""Tenancy: what a caller creates is theirs alone; another caller's ids answer as ids that do not exist.

Two IAM users, alice and bob, call the real handlers with the identity API
Gateway's IAM authorization puts in the event.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import requests

from pixelmill.models.ids import incoming_image_id
from pixelmill.settings import get_settings
from tests.imagegen import image_bytes, jpeg_bytes
from tests.integration.conftest import ALICE, BOB, ApiClient, Stack, iam_user


def _png() -> bytes:
    return image_bytes("PNG", 40, 30)


def _done_task(stack: Stack, api: ApiClient) -> dict[str, Any]:
    image_id = stack.upload(_png(), "image/png", api=api)
    created = api.post("/api/tasks/", json_body={"image_id": image_id, "function_type": "grayscale"})
    assert created.status == 200, created.body
    while stack.process_batch().received:
        pass
    task: dict[str, Any] = api.get(f"/api/tasks/{created.json()['task_id']}/").json()
    assert task["status"] == "done", task
    return task


def _not_found_alike(response: Any, missing: Any) -> None:
    """``response`` (about another caller's id) says exactly what ``missing`` (about no id at all) says."""
    assert response.status == missing.status, response.body
    assert json.loads(response.body)["type"] == json.loads(missing.body)["type"]
    assert [e["field"] for e in json.loads(response.body).get("errors") or []] == [
        e["field"] for e in json.loads(missing.body).get("errors") or []
    ]


def test_another_callers_images_tasks_and_results_are_as_if_they_did_not_exist(stack: Stack) -> None:
    # Given alice's finished task, its source image and its result
    task = _done_task(stack, stack.api)
    bob = stack.api.as_caller(BOB)
    never = "0197e45a-8fc5-7848-9c9f-56cc0ae0a087"
    never_task = "01JD0000000000000000000000"

    # Then bob reads none of them: each answers as an id that does not exist
    for image_id in (task["image_id"], task["new_image_id"]):
        _not_found_alike(bob.get(f"/api/images/{image_id}/"), bob.get(f"/api/images/{never}/"))
        assert bob.get(f"/api/images/{image_id}/").status == 404
        # nor runs a function on them
        _not_found_alike(
            bob.post("/api/tasks/", json_body={"image_id": image_id, "function_type": "grayscale"}),
            bob.post("/api/tasks/", json_body={"image_id": never, "function_type": "grayscale"}),
        )
        # nor finds tasks by them
        listed = bob.get("/api/tasks/", query={"image_id": [image_id]})
        assert (listed.status, listed.json()) == (200, [])
    _not_found_alike(bob.get(f"/api/tasks/{task['task_id']}/"), bob.get(f"/api/tasks/{never_task}/"))
    assert bob.get(f"/api/tasks/{task['task_id']}/").status == 404
    _not_found_alike(bob.delete(f"/api/tasks/{task['task_id']}/"), bob.delete(f"/api/tasks/{never_task}/"))
    assert bob.get("/api/tasks/").json() == []

    # And alice still has everything, the result included
    mine = stack.api.get(f"/api/tasks/{task['task_id']}/")
    assert mine.status == 200
    assert requests.get(mine.json()["result_url"], timeout=30).status_code == 200
    assert [t["task_id"] for t in stack.api.get("/api/tasks/").json()] == [task["task_id"]]


def test_each_caller_lists_only_their_own_tasks(stack: Stack) -> None:
    bob = stack.api.as_caller(BOB)
    alices = _done_task(stack, stack.api)
    bobs = _done_task(stack, bob)

    assert [t["task_id"] for t in stack.api.get("/api/tasks/").json()] == [alices["task_id"]]
    assert [t["task_id"] for t in bob.get("/api/tasks/").json()] == [bobs["task_id"]]
    assert [t["task_id"] for t in bob.get("/api/tasks/", query={"status": ["done"]}).json()] == [bobs["task_id"]]


def test_a_principal_that_cannot_own_data_is_refused(stack: Stack) -> None:
    # A federated user (GetFederationToken): its principal id is the account's id and a chosen name
    federated = stack.api.as_caller({**ALICE, "user": "123456789012:someone", "caller": "123456789012:someone"})
    # A call that reached the function without IAM authorization (a misconfigured route)
    anonymous = stack.api.as_caller({})

    for api in (federated, anonymous):
        response = api.get("/api/tasks/")
        assert response.status == 403, response.body
        assert response.headers["content-type"] == "application/problem+json"


def test_over_the_quota_a_task_is_a_429_and_nothing_is_created(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a quota of two unfinished tasks per caller, and alice's two queued tasks
    monkeypatch.setenv("PIXELMILL_MAX_UNFINISHED_TASKS", "2")
    get_settings.cache_clear()
    image_id = stack.upload(_png(), "image/png")
    body = {"image_id": image_id, "function_type": "grayscale"}
    for _ in range(2):
        assert stack.api.post("/api/tasks/", json_body=body).status == 200

    # When she asks for a third, directly or with an upload
    refused = stack.api.post("/api/tasks/", json_body=body)
    upload = stack.api.post("/api/images/", json_body={"content_type": "image/png", "function_type": "grayscale"})

    # Then both are a 429 saying when to retry, and nothing was created or queued
    for response in (refused, upload):
        assert response.status == 429, response.body
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) > 0
        assert json.loads(response.body)["type"] == "urn:pixelmill:problem:quota_exceeded"
    assert len(stack.api.get("/api/tasks/").json()) == 2
    assert stack.queue_depth(stack.queue_url) == 2

    # And the quota is per caller: bob creates his; and once alice's tasks finish, she may again
    bob = stack.api.as_caller(BOB)
    assert (
        bob.post("/api/tasks/", json_body={**body, "image_id": stack.upload(_png(), "image/png", api=bob)}).status
        == 200
    )
    while stack.process_batch().received:
        pass
    assert stack.api.post("/api/tasks/", json_body=body).status == 200


def test_a_file_dropped_into_incoming_belongs_to_its_uploader(stack: Stack) -> None:
    # Given a file bob (an IAM user) put into incoming/thumbnails/, as S3 tells IngestFunction
    key = "incoming/thumbnails/bob.jpg"
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=jpeg_bytes(64, 48), ContentType="image/jpeg")
    assert stack.notify(_notification(stack, key, f"AWS:{BOB['user']}")) == {"queued": 1}
    bob = stack.api.as_caller(BOB)
    image_id = incoming_image_id(key)

    # Then its task and the file are bob's, and alice sees neither
    [task] = bob.get("/api/tasks/").json()
    assert task["image_id"] == image_id
    assert bob.get(f"/api/images/{image_id}/").status == 200
    assert stack.api.get("/api/tasks/").json() == []
    assert stack.api.get(f"/api/images/{image_id}/").status == 404
    refused = stack.api.post("/api/tasks/", json_body={"image_id": image_id, "function_type": "grayscale"})
    assert [e["field"] for e in refused.json()["errors"]] == ["image_id"]
    # And bob may run another function on it
    assert bob.post("/api/tasks/", json_body={"image_id": image_id, "function_type": "grayscale"}).status == 200


def test_a_rule_may_name_the_owner_of_its_uploads(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a rule for uploads by another service, whose files belong to alice
    rules = [{"prefix": "incoming/from-cms/", "function_type": "grayscale", "owner": ALICE["user"]}]
    monkeypatch.setenv("PIXELMILL_INGEST_RULES", json.dumps(rules))
    get_settings.cache_clear()
    key = "incoming/from-cms/banner.jpg"
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=jpeg_bytes(32, 32), ContentType="image/jpeg")
    service = iam_user("cms", "AROACMSSERVICEROLE0001")

    # When the service's role uploads it
    assert stack.notify(_notification(stack, key, f"AWS:{service['user']}:cms-session")) == {"queued": 1}

    # Then the task is alice's, not the service's
    assert [t["image_id"] for t in stack.api.get("/api/tasks/").json()] == [incoming_image_id(key)]
    assert stack.api.as_caller(service).get("/api/tasks/").json() == []


def test_a_file_nobody_can_own_is_left_alone(stack: Stack) -> None:
    key = "incoming/thumbnails/anonymous.jpg"
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=jpeg_bytes(32, 32), ContentType="image/jpeg")

    assert stack.notify(_notification(stack, key, "anonymous")) == {"ignored": 1}
    assert stack.queue_depth(stack.queue_url) == 0


def _notification(stack: Stack, key: str, principal_id: str) -> dict[str, Any]:
    """The ObjectCreated:Put record S3 sends about ``key``, naming who wrote it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-01T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": principal_id},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "Upload",
                    "bucket": {"name": stack.bucket, "arn": f"arn:aws:s3:::{stack.bucket}"},
                    "object": {"key": key.replace(" ", "+"), "size": 1, "eTag": "x"},
                },
            }
        ]
    }
