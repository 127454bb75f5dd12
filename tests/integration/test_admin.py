"""``pixelmill admin`` on moto: redrive the dead-letter queues, re-run failed tasks, as the runbook says.

The command finds the stack's resources from its CloudFormation outputs, which
``infra.provision.publish_outputs`` publishes on the emulator as ``sam deploy`` does on AWS.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.provision import publish_outputs
from pixelmill.dal.images import S3ImageStore as ImageStore
from pixelmill.models.ids import image_key
from pixelmill_cli.main import main
from tests.imagegen import jpeg_bytes
from tests.integration.conftest import Stack
from tests.integration.test_ingest import Notifications


def admin_run(*args: str) -> list[str]:
    """``pixelmill admin ARGS``: its output lines."""
    out = io.StringIO()
    assert main(["admin", *args], out=out) == 0
    return out.getvalue().splitlines()


@pytest.fixture
def admin(stack: Stack) -> Any:
    publish_outputs(stack.resources.template)
    return admin_run


def _create(stack: Stack, image_id: str, **args: Any) -> str:
    response = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": "resize", "function_args": args}
    )
    assert response.status == 200, response.body
    task_id: str = response.json()["task_id"]
    return task_id


def _status(stack: Stack, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = stack.api.get(f"/api/tasks/{task_id}/").json()
    return task


def test_redrive_tasks_runs_each_dead_lettered_task_again(
    stack: Stack, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task whose every delivery hit an S3 fault: failed, its message in the DLQ
    task_id = _create(stack, stack.upload(jpeg_bytes(64, 48)), width=32)
    boto3.client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})

    def broken_download(self: ImageStore, key: str, path: Path) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "throttled"}}, "GetObject")

    with monkeypatch.context() as outage:
        outage.setattr(ImageStore, "download", broken_download)
        for _ in range(3):
            stack.process_batch()
    assert stack.process_batch().received == 0  # the fourth receive moves it to the DLQ
    assert _status(stack, task_id)["error"]["code"] == "retries_exhausted"
    assert stack.queue_depth(stack.dlq_url) == 1

    # When the operator looks first, then redrives the queue (the outage is over)
    preview = admin("redrive", "tasks", "--dry-run")
    assert stack.queue_depth(stack.dlq_url) == 1
    assert _status(stack, task_id)["status"] == "failed"
    redriven = admin("redrive", "tasks")

    # Then the task is queued again, with its error cleared, and the DLQ is empty
    assert preview == [f"would run  task {task_id}", "1 would run"]
    assert redriven == [f"requeued   task {task_id}", "1 requeued"]
    queued = _status(stack, task_id)
    assert (queued["status"], queued["error"], queued["progress"]) == ("queued", None, 0)
    assert stack.queue_depth(stack.dlq_url) == 0

    # And the processor finishes it under the same id
    stack.process_batch()
    assert _status(stack, task_id)["status"] == "done"


def test_rerun_takes_failed_tasks_by_id_or_by_code(stack: Stack, admin: Any) -> None:
    # Given two tasks that failed because their uploads were not images, and a done one
    broken = [stack.upload(b"not an image", "image/jpeg") for _ in range(2)]
    failed = [_create(stack, image_id, width=8) for image_id in broken]
    done = _create(stack, stack.upload(jpeg_bytes(32, 32)), width=8)
    stack.process_batch()
    assert {_status(stack, task_id)["status"] for task_id in failed} == {"failed"}

    # When the code filter matches nothing, or a dry run lists them, nothing changes
    assert admin("rerun", "--code", "retries_exhausted") == ["nothing to do"]
    listed = admin("rerun", "--code", "unsupported_image", "--dry-run")
    assert sorted(line.split()[3] for line in listed[:-1]) == sorted(failed)
    assert listed[-1] == "2 would run"

    # When the first source is fixed and that task is re-run by id (the done one is refused)
    boto3.client("s3").put_object(
        Bucket=stack.bucket, Key=image_key(broken[0], stack.api.tenant), Body=jpeg_bytes(32, 16)
    )
    lines = admin("rerun", failed[0], done)
    stack.process_batch()

    # Then it runs again and is done; the other failed task and the done task are untouched
    assert lines[0].startswith(f"requeued   task {failed[0]} resize (unsupported_image)")
    assert lines[1] == f"skipped    task {done}: done, not failed"
    assert _status(stack, failed[0])["status"] == "done"
    assert _status(stack, failed[1])["status"] == "failed"


def test_redrive_uploads_hands_each_dead_lettered_notification_back_to_ingest(stack: Stack) -> None:
    # Given an upload whose notification IngestFunction failed on (kept in its dead-letter queue),
    # and the queue that feeds IngestFunction its S3 events here (what the local stack publishes)
    notifications = Notifications(stack)
    notifications.received()
    publish_outputs(
        stack.resources.template, stack_name="elsewhere", extra={"IngestFunctionEventQueueUrl": notifications.url}
    )
    boto3.client("s3").put_object(Bucket=stack.bucket, Key="incoming/thumbnails/late.jpg", Body=jpeg_bytes(300, 200))
    [event] = notifications.received()
    dead_letters = stack.resources.template.physical_ids["IngestDeadLetterQueue"]
    boto3.client("sqs").send_message(QueueUrl=dead_letters, MessageBody=json.dumps(event))

    # When the operator looks, then redrives the queue
    preview = admin_run("redrive", "uploads", "--stack", "elsewhere", "--dry-run")
    lines = admin_run("redrive", "uploads", "--stack", "elsewhere")

    # Then the same event reaches IngestFunction again, and the upload gets its task
    where = f"s3://{stack.bucket}/incoming/thumbnails/late.jpg"
    assert preview == [f"would send {where}", "1 would send"]
    assert lines == [f"redelivered {where}", "1 redelivered"]
    assert stack.queue_depth(dead_letters) == 0
    [redelivered] = notifications.received()
    assert redelivered == event
    stack.notify(redelivered)
    [task] = stack.api.get("/api/tasks/").json()
    assert task["function_type"] == "thumbnail"
