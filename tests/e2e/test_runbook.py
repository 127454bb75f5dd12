"""docs/runbook.md's commands on the local stack: `pixelmill admin` re-runs failed tasks and
redrives both dead-letter queues; the stack's log shows each task's lines readably."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pixelmill.models.ids import incoming_image_id
from tests.e2e.conftest import RunningStack, archived_upload, redelivered_at_once, start_stack
from tests.e2e.test_local_stack import create, upload, wait_all
from tests.imagegen import jpeg_bytes


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # A stack of its own: these tests fill and empty its dead-letter queues.
    running = start_stack(tmp_path_factory.mktemp("runbook") / "stack.log")
    # The stack publishes its outputs (what `pixelmill admin` reads) in the background.
    cloudformation = running.client("cloudformation")
    deadline = time.monotonic() + 60
    while True:
        try:
            cloudformation.describe_stacks(StackName="pixelmill")
            break
        except ClientError:
            assert time.monotonic() < deadline, running.log()
            time.sleep(0.5)
    yield running
    assert running.stop() == 0, running.log()


def admin(stack: RunningStack, *args: str) -> str:
    """`pixelmill admin … --local`, as the runbook writes it, against this stack's emulator."""
    environment = {**os.environ, "AWS_ENDPOINT_URL": stack.aws_endpoint}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        environment.pop(name, None)
    ran = subprocess.run(
        [sys.executable, "-m", "pixelmill_cli", "admin", *args, "--local"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def _bucket(stack: RunningStack) -> str:
    started = stack.session.post(f"{stack.api}/images/", json={"content_type": "image/jpeg"}, timeout=30)
    return str(started.json()["upload"]["url"]).rstrip("/").rsplit("/", 1)[-1]


def test_rerun_failed_tasks_once_their_cause_is_fixed(local_stack: RunningStack) -> None:
    stack = local_stack
    # Given a task that failed because its upload was not an image
    image_id = upload(stack, b"not an image")
    task = create(stack, image_id, "resize", {"width": 8})
    (failed,) = wait_all(stack, [task["task_id"]]).values()
    assert failed["error"]["code"] == "unsupported_image"

    # When the upload is replaced by a real image and the failed task is re-run
    stack.client("s3").put_object(Bucket=_bucket(stack), Key=_upload_key(stack, image_id), Body=jpeg_bytes(32, 16))
    output = admin(stack, "rerun", "--code", "unsupported_image")

    # Then it runs again under the same id and is done
    assert f"requeued   task {task['task_id']}" in output
    (done,) = wait_all(stack, [task["task_id"]]).values()
    assert done["status"] == "done"
    # And the stack's log shows its story as readable lines, each with its task_id
    log = stack.log()
    for message in ("task created", "task started", "task failed", "task done"):
        assert any(message in line and f"task_id={task['task_id']}" in line for line in log.splitlines()), message
    assert "metrics function_type=resize: " in log
    assert "metrics function_name=ProcessorFunction: ColdStart=1" in log


def test_redrive_tasks_runs_the_dead_lettered_tasks_again(local_stack: RunningStack) -> None:
    stack = local_stack
    # Given a task whose source could not be read on any delivery (archived: GETs refused)
    image_id = archived_upload(stack, jpeg_bytes(16, 16))
    with redelivered_at_once(stack) as sqs:
        dlq_url = sqs.get_queue_url(QueueName="pixelmill-taskdeadletterqueue")["QueueUrl"]
        task = create(stack, image_id, "resize", {"width": 8})
        (failed,) = wait_all(stack, [task["task_id"]]).values()
        assert failed["error"]["code"] == "retries_exhausted"
        deadline = time.monotonic() + 30
        while _depth(stack, dlq_url) == 0:
            assert time.monotonic() < deadline, "the message did not reach the dead-letter queue"
            time.sleep(0.5)

    # When the source is readable again and the operator redrives the queue
    stack.client("s3").put_object(Bucket=_bucket(stack), Key=_upload_key(stack, image_id), Body=jpeg_bytes(16, 16))
    output = admin(stack, "redrive", "tasks")

    # Then the task runs again and is done, and the dead-letter queue is empty
    assert f"requeued   task {task['task_id']}" in output
    (done,) = wait_all(stack, [task["task_id"]]).values()
    assert done["status"] == "done"
    assert _depth(stack, dlq_url) == 0


def test_redrive_uploads_gives_a_dead_lettered_upload_its_task(local_stack: RunningStack) -> None:
    stack = local_stack
    # Given a file alice dropped into incoming/ whose notification IngestFunction gave up on (kept in its DLQ)
    bucket = _bucket(stack)
    key = "incoming/thumbnails/runbook.jpg"
    s3 = stack.client("s3", stack.alice)
    s3.put_object(Bucket=bucket, Key=key, Body=jpeg_bytes(300, 200), ContentType="image/jpeg")
    first = _tasks_of_upload(stack, key, count=1)
    stack.session.delete(f"{stack.api}/tasks/{first[0]['task_id']}/", timeout=30)  # as if it never got one
    sqs = stack.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName="pixelmill-ingestdeadletterqueue")["QueueUrl"]
    assert stack.alice is not None
    # The event as IngestFunction got it (and as Lambda dead-letters it): S3 names the uploader.
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": f"AWS:{stack.alice.user_id}"},
                "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
            }
        ]
    }
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(event))

    # When the operator redrives the queue
    output = admin(stack, "redrive", "uploads")

    # Then IngestFunction gets the event again and gives the upload alice's task, which finishes
    assert f"redelivered s3://{bucket}/{key}" in output
    [task] = _tasks_of_upload(stack, key, count=1)
    (done,) = wait_all(stack, [task["task_id"]]).values()
    assert (done["function_type"], done["status"]) == ("thumbnail", "done")
    assert _depth(stack, dlq_url) == 0


def _upload_key(stack: RunningStack, image_id: str) -> str:
    """Where the API's presigned POST puts alice's upload."""
    assert stack.alice is not None
    return f"uploads/{stack.alice.user_id}/{image_id}"


def _tasks_of_upload(stack: RunningStack, key: str, count: int) -> list[dict[str, Any]]:
    image_id = incoming_image_id(key)
    deadline = time.monotonic() + 30
    while True:
        tasks: list[dict[str, Any]] = stack.session.get(
            f"{stack.api}/tasks/", params={"image_id": image_id}, timeout=30
        ).json()
        if len(tasks) >= count:
            return tasks
        assert time.monotonic() < deadline, f"no task for {key}"
        time.sleep(0.3)


def _depth(stack: RunningStack, url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
