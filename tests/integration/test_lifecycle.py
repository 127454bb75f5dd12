"""A task's whole life through the real handlers on moto: create → queue → process → done,
and every way it can go wrong without getting stuck or lost."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from PIL import Image

from pixelmill.catalog import registry
from pixelmill.dal.errors import translate_sdk_errors
from pixelmill.dal.images import S3ImageStore as ImageStore
from pixelmill.dal.queue import SqsTaskQueue as TaskQueue
from pixelmill.models.task import TaskStatus
from tests.imagegen import jpeg_bytes
from tests.integration.conftest import Stack


def _jpeg(width: int = 640, height: int = 480) -> bytes:
    return jpeg_bytes(width, height)


def _create(stack: Stack, image_id: str, function_type: str = "resize", **args: Any) -> dict[str, Any]:
    response = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": function_type, "function_args": args}
    )
    assert response.status == 200, response.body
    task: dict[str, Any] = response.json()
    return task


def _task(stack: Stack, task_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/api/tasks/{task_id}/")
    assert response.status == 200, response.body
    task: dict[str, Any] = response.json()
    return task


def _result_keys(stack: Stack) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="results/")
    return [item["Key"] for item in listing.get("Contents", [])]


def _redeliver_at_once(stack: Stack) -> None:
    """Make failed messages visible again immediately (the template's timeout is 300 s)."""
    boto3.client("sqs").set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "0"})


def test_resize_task_goes_from_queued_to_done_with_a_real_result(stack: Stack) -> None:
    # Given an uploaded 640×480 JPEG
    image_id = stack.upload(_jpeg(640, 480))

    # When a resize task is created
    created = _create(stack, image_id, width=320)

    # Then it is queued with the seed's fields, and its id is on the queue
    assert created["status"] == "queued"
    assert created["function_args"] == {"width": 320}
    assert created["progress"] == 0
    assert created["new_image_id"] is None
    assert created["result_url"] is None
    assert created["error"] is None
    assert stack.queue_depth(stack.queue_url) == 1

    # When the processor gets the SQS batch
    outcome = stack.process_batch()

    # Then the task is done and its result is a real 320×240 JPEG
    assert (outcome.received, outcome.succeeded) == (1, 1)
    done = _task(stack, created["task_id"])
    assert done["status"] == "done"
    assert done["progress"] == 100
    assert done["duration"] is not None
    assert done["duration"] >= 0
    assert done["new_image_id"] == f"res-{created['task_id']}"
    result = Image.open(io.BytesIO(requests.get(done["result_url"], timeout=30).content))
    assert result.format == "JPEG"
    assert result.size == (320, 240)
    assert stack.queue_depth(stack.queue_url) == 0

    # And the result is an image of its own, usable as a source
    image = stack.api.get(f"/api/images/{done['new_image_id']}/").json()
    assert image["content_type"] == "image/jpeg"


def test_result_can_feed_another_task(stack: Stack) -> None:
    first = _create(stack, stack.upload(_jpeg(400, 300)), width=200)
    stack.process_batch()
    new_image_id = _task(stack, first["task_id"])["new_image_id"]

    second = _create(stack, new_image_id, width=100)
    stack.process_batch()

    done = _task(stack, second["task_id"])
    assert done["status"] == "done"
    assert Image.open(io.BytesIO(requests.get(done["result_url"], timeout=30).content)).size == (100, 75)


def test_task_for_an_image_that_does_not_exist_is_400(stack: Stack) -> None:
    response = stack.api.post(
        "/api/tasks/",
        json_body={
            "image_id": "0197e45a-8fc5-7848-9c9f-56cc0ae0a087",
            "function_type": "resize",
            "function_args": {"width": 10},
        },
    )

    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "image_id"
    assert stack.queue_depth(stack.queue_url) == 0


def test_bad_function_args_are_400_naming_the_argument(stack: Stack) -> None:
    image_id = stack.upload(_jpeg())

    response = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": "resize", "function_args": {"width": -5}}
    )

    assert response.status == 400
    assert [error["field"] for error in response.json()["errors"]] == ["function_args.width"]
    assert stack.queue_depth(stack.queue_url) == 0


def test_corrupt_upload_ends_failed_with_a_reason_and_is_not_retried(stack: Stack) -> None:
    # Given bytes that are no image, uploaded as a JPEG
    image_id = stack.upload(b"this is not a jpeg at all" * 10, "image/jpeg")
    task = _create(stack, image_id, width=100)

    # When it is processed
    outcome = stack.process_batch()

    # Then the task failed for good, with a readable reason, and the message is gone
    assert outcome.succeeded == 1
    failed = _task(stack, task["task_id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "unsupported_image"
    assert failed["error"]["message"]
    assert failed["result_url"] is None
    assert stack.queue_depth(stack.queue_url) == 0
    assert _result_keys(stack) == []


def test_upload_over_the_size_limit_fails_in_the_worker(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an upload bigger than the limit (the emulator does not enforce the POST policy)
    image_id = stack.upload(_jpeg(640, 480))
    task = _create(stack, image_id, width=100)
    monkeypatch.setenv("PIXELMILL_MAX_UPLOAD_BYTES", "100")
    from pixelmill.settings import get_settings

    get_settings.cache_clear()

    # When processed, then it fails as too large without being decoded
    stack.process_batch()
    failed = _task(stack, task["task_id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "image_too_large"


def test_transient_fault_is_retried_then_succeeds(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given S3 fails once while the source is read
    task = _create(stack, stack.upload(_jpeg()), width=64)
    _redeliver_at_once(stack)
    real_download = ImageStore.download
    calls = {"n": 0}

    def flaky_download(self: ImageStore, key: str, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "GetObject")
        real_download(self, key, path)

    monkeypatch.setattr(ImageStore, "download", translate_sdk_errors(flaky_download))

    # When the first delivery fails
    first = stack.process_batch()

    # Then the record is reported failed, stays queued and the task is not failed
    assert (first.received, first.failed) == (1, 1)
    assert _task(stack, task["task_id"])["status"] == "processing"

    # And the redelivery finishes it
    second = stack.process_batch()
    assert second.succeeded == 1
    assert _task(stack, task["task_id"])["status"] == "done"


def test_persistent_fault_marks_the_task_failed_on_the_last_receive_and_the_message_reaches_the_dlq(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given S3 always fails
    task = _create(stack, stack.upload(_jpeg()), width=64)
    _redeliver_at_once(stack)

    def broken_download(self: ImageStore, key: str, path: Path) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "throttled"}}, "GetObject")

    monkeypatch.setattr(ImageStore, "download", translate_sdk_errors(broken_download))

    # When every allowed receive fails (3, the template's MaxReceiveCount)
    for attempt in (1, 2, 3):
        outcome = stack.process_batch()
        assert outcome.failed == 1, attempt

    # Then the task is failed with a reason, not stuck in processing
    failed = _task(stack, task["task_id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "retries_exhausted"
    assert "GetObject" in failed["error"]["message"]
    assert "SlowDown" in failed["error"]["message"]

    # And the message moves to the dead-letter queue instead of a fourth delivery
    assert stack.process_batch().received == 0
    assert stack.queue_depth(stack.dlq_url) == 1


def test_duplicate_delivery_gives_one_result(stack: Stack) -> None:
    # Given the same task id delivered twice (SQS is at-least-once)
    task = _create(stack, stack.upload(_jpeg()), width=50)
    boto3.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"task_id": task["task_id"]}))

    # When both are processed
    outcome = stack.process_batch()

    # Then both messages are consumed, and there is one task, done, with one result
    assert (outcome.received, outcome.succeeded) == (2, 2)
    assert _task(stack, task["task_id"])["status"] == "done"
    assert _result_keys(stack) == [f"results/{stack.api.tenant}/res-{task['task_id']}"]


def test_redelivery_after_a_crash_mid_processing_finishes_the_task(stack: Stack) -> None:
    # Given a task left in processing by a worker that died (message visible again)
    task = _create(stack, stack.upload(_jpeg()), width=50)
    from pixelmill.dal import get_stores

    get_stores().tasks.transition(task["task_id"], TaskStatus.PROCESSING, [TaskStatus.QUEUED], progress=20)

    # When the message is delivered again, then the task completes
    stack.process_batch()
    assert _task(stack, task["task_id"])["status"] == "done"


def test_a_bad_message_fails_alone_and_the_rest_of_the_batch_succeeds(stack: Stack) -> None:
    # Given a batch with a garbage message and a real task
    boto3.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody="garbage")
    task = _create(stack, stack.upload(_jpeg()), width=32)

    # When delivered together
    outcome = stack.process_batch()

    # Then only the garbage is reported failed (it will end in the DLQ), the task is done
    assert (outcome.received, outcome.succeeded, outcome.failed) == (2, 1, 1)
    assert _task(stack, task["task_id"])["status"] == "done"


def test_queue_failure_at_create_is_an_error_and_leaves_no_task(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    image_id = stack.upload(_jpeg())

    def refuse(self: TaskQueue, task_id: str) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    monkeypatch.setattr(TaskQueue, "send", translate_sdk_errors(refuse))

    response = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": "resize", "function_args": {"width": 10}}
    )

    assert response.status == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert stack.api.get("/api/tasks/").json() == []


def test_processing_timeout_fails_the_task(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a transform slower than the per-task timeout
    task = _create(stack, stack.upload(_jpeg()), width=32)
    monkeypatch.setenv("PIXELMILL_TASK_TIMEOUT_SECONDS", "0.2")
    from pixelmill.settings import get_settings

    get_settings.cache_clear()
    resize = type(registry.load("resize", {"width": 32}))

    def slow_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(5)
        raise AssertionError("the deadline should have stopped this")

    monkeypatch.setattr(resize, "run", slow_run)

    # When processed, then it ends failed with a timeout, quickly
    started = time.monotonic()
    stack.process_batch()
    assert time.monotonic() - started < 4
    failed = _task(stack, task["task_id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "timeout"


def test_delete_before_processing_cancels_and_nothing_is_produced(stack: Stack) -> None:
    task = _create(stack, stack.upload(_jpeg()), width=32)

    response = stack.api.delete(f"/api/tasks/{task['task_id']}/")

    assert response.status == 204
    assert stack.api.get(f"/api/tasks/{task['task_id']}/").status == 404
    outcome = stack.process_batch()
    assert outcome.succeeded == 1
    assert _result_keys(stack) == []


def test_delete_after_done_removes_the_result(stack: Stack) -> None:
    task = _create(stack, stack.upload(_jpeg()), width=32)
    stack.process_batch()
    assert _result_keys(stack) == [f"results/{stack.api.tenant}/res-{task['task_id']}"]

    assert stack.api.delete(f"/api/tasks/{task['task_id']}/").status == 204

    assert _result_keys(stack) == []
    assert stack.api.delete(f"/api/tasks/{task['task_id']}/").status == 404


def test_cancel_while_processing_leaves_no_result(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a task deleted by its client while the worker has it (after the download, before
    # the transform's first cancel check: it finishes and stores its result)
    task = _create(stack, stack.upload(_jpeg()), width=32)
    real_download = ImageStore.download

    def download_then_cancelled(self: ImageStore, key: str, path: Path) -> None:
        real_download(self, key, path)
        assert stack.api.delete(f"/api/tasks/{task['task_id']}/").status == 204

    monkeypatch.setattr(ImageStore, "download", download_then_cancelled)

    # When the worker finishes, then it removes what it wrote and the task stays gone
    outcome = stack.process_batch()
    assert outcome.succeeded == 1
    assert _result_keys(stack) == []
    assert stack.api.get(f"/api/tasks/{task['task_id']}/").status == 404


def test_list_is_newest_first_paginated_with_link_and_filtered(stack: Stack) -> None:
    # Given five tasks on two images, one of them processed
    first_image, second_image = stack.upload(_jpeg(64, 64)), stack.upload(_jpeg(64, 64))
    ids = []
    for index in range(5):
        ids.append(_create(stack, first_image if index < 3 else second_image, width=8 + index)["task_id"])
        time.sleep(0.002)  # distinct milliseconds: ULIDs sort by time
    stack.process_batch(batch_size=1)  # the oldest is done

    # When listed two at a time
    pages, query = [], {"limit": ["2"]}
    while True:
        response = stack.api.get("/api/tasks/", query=query)
        assert response.status == 200
        pages.append([task["task_id"] for task in response.json()])
        link = response.headers.get("link")
        if not link:
            break
        assert link.endswith('; rel="next"')
        url = link[1 : link.index(">")]
        assert url.startswith("https://1234567890.execute-api.us-east-1.amazonaws.com/v1/api/tasks")  # not Host
        query = {k: [v] for k, v in (pair.split("=", 1) for pair in url.split("?", 1)[1].split("&"))}

    # Then every task comes once, newest first, in pages of at most two
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [task_id for page in pages for task_id in page] == list(reversed(ids))

    # And the filters narrow the list
    by_image = stack.api.get("/api/tasks/", query={"image_id": [second_image]}).json()
    assert [task["task_id"] for task in by_image] == list(reversed(ids[3:]))
    done = stack.api.get("/api/tasks/", query={"status": ["done"]}).json()
    assert [task["task_id"] for task in done] == [ids[0]]
    both = stack.api.get("/api/tasks/", query={"status": ["queued"], "image_id": [first_image]}).json()
    assert [task["task_id"] for task in both] == list(reversed(ids[1:3]))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["many"]}, "limit"),
        ({"status": ["sleeping"]}, "status"),
        ({"cursor": ["bm90LWEtY3Vyc29y"]}, "cursor"),
        ({"image_id": ["../etc/passwd"]}, "image_id"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(
    stack: Stack, query: dict[str, list[str]], field: str
) -> None:
    response = stack.api.get("/api/tasks/", query=query)

    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_progress_is_recorded_in_stages_while_processing(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given every progress write is observed (an animation reports per frame)
    from pixelmill.dal.tasks import DynamoTaskStore as TaskStore
    from tests.imagegen import animated_gif_bytes

    seen: list[int] = []
    real_set_progress = TaskStore.set_progress

    def observe(self: TaskStore, task_id: str, progress: int) -> None:
        seen.append(progress)
        real_set_progress(self, task_id, progress)

    monkeypatch.setattr(TaskStore, "set_progress", observe)
    task = _create(stack, stack.upload(animated_gif_bytes(64, 48, frames=30), "image/gif"), width=32)

    # When it is processed
    stack.process_batch()

    # Then progress rose through the stages, strictly between start and done, then 100
    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert all(0 < value < 100 for value in seen)
    assert _task(stack, task["task_id"])["progress"] == 100


def test_a_duplicate_finishing_first_does_not_delete_the_shared_result(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two deliveries of one task, the second finishing while the first still works
    task = _create(stack, stack.upload(_jpeg()), width=40)
    boto3.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"task_id": task["task_id"]}))
    resize = type(registry.load("resize", {"width": 40}))
    real_run = resize.run
    nested = {"done": False}

    def run_with_a_duplicate_overtaking(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not nested["done"]:
            nested["done"] = True
            assert stack.process_batch(batch_size=1).succeeded == 1  # the duplicate, start to finish
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(resize, "run", run_with_a_duplicate_overtaking)

    # When the first delivery then finishes too
    assert stack.process_batch(batch_size=1).succeeded == 1

    # Then the task is done and its result is still there
    done = _task(stack, task["task_id"])
    assert done["status"] == "done"
    assert _result_keys(stack) == [f"results/{stack.api.tenant}/res-{task['task_id']}"]
    assert requests.get(done["result_url"], timeout=30).status_code == 200


def test_a_transform_that_raises_fails_the_task_at_once_with_the_reason(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a transform with a bug: it raises whatever the input
    task = _create(stack, stack.upload(_jpeg()), width=40)
    resize = type(registry.load("resize", {"width": 40}))

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("tile cannot extend outside image")

    monkeypatch.setattr(resize, "run", broken)

    # When processed, then it is not retried: failed now, saying what went wrong
    outcome = stack.process_batch()
    assert outcome.succeeded == 1
    failed = _task(stack, task["task_id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "transform_failed"
    assert failed["error"]["message"] == "the resize transform failed: tile cannot extend outside image"


def test_too_little_time_left_in_the_invocation_defers_the_task_untouched(stack: Stack) -> None:
    # Given an invocation with less time left than a task's timeout (50 s) plus the margin
    task = _create(stack, stack.upload(_jpeg()), width=40)

    # When the batch is delivered
    from infra.event_source import deliver_batch

    outcome = deliver_batch(
        stack.processor.lambda_handler, stack.queue_url, function_name="ProcessorFunction", timeout_seconds=30
    )

    # Then the message goes back to the queue and the task was not started
    assert (outcome.received, outcome.failed) == (1, 1)
    assert _task(stack, task["task_id"])["status"] == "queued"
    assert stack.queue_depth(stack.queue_url) == 1


def test_a_done_task_expires_with_its_result(stack: Stack) -> None:
    # The record's TTL follows the result's retention (7 days), not the 30 days of unfinished tasks.
    task = _create(stack, stack.upload(_jpeg()), width=40)
    stack.process_batch()

    item = boto3.client("dynamodb").get_item(
        TableName=stack.resources.template.physical_ids["TasksTable"], Key={"task_id": {"S": task["task_id"]}}
    )["Item"]
    days = (int(item["expires_at"]["N"]) - time.time()) / 86400
    assert 6.9 < days <= 7


def test_function_args_are_stored_as_validated(stack: Stack) -> None:
    task = _create(stack, stack.upload(_jpeg()), width="120", upscale="true")

    assert task["function_args"] == {"width": 120, "upscale": True}


def test_tasks_whose_worker_was_killed_every_time_are_failed_by_the_sweeper(stack: Stack) -> None:
    # Given a batch whose Lambda is killed (timeout, out of memory) on every delivery: no handler code runs
    killed = _create(stack, stack.upload(_jpeg()), width=40)
    batch_mate = _create(stack, stack.upload(_jpeg()), width=40)
    _redeliver_at_once(stack)
    from infra.event_source import deliver_batch

    def killed_lambda(event: Any, context: Any) -> Any:
        raise MemoryError("Runtime exited with error: signal: killed")

    for _ in range(3):
        assert deliver_batch(killed_lambda, stack.queue_url, function_name="ProcessorFunction").failed == 2
    assert stack.process_batch().received == 0  # both moved to the dead-letter queue
    assert stack.queue_depth(stack.dlq_url) == 2
    assert _task(stack, killed["task_id"])["status"] == "queued"

    # When the scheduled sweeper runs
    result = stack.sweep()

    # Then both tasks are failed with a reason, and the messages stay in the DLQ for inspection
    assert result == {"failed": 2, "expired": 0}
    for task in (killed, batch_mate):
        failed = _task(stack, task["task_id"])
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "retries_exhausted"
        assert "dead-letter queue" in failed["error"]["message"]
    assert stack.queue_depth(stack.dlq_url) == 2

    # And a second sweep changes nothing
    assert stack.sweep() == {"failed": 0, "expired": 0}


def test_sweeper_leaves_finished_tasks_and_foreign_dead_letters_alone(stack: Stack) -> None:
    task = _create(stack, stack.upload(_jpeg()), width=40)
    stack.process_batch()
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody=json.dumps({"task_id": task["task_id"]}))
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody="not a task message")

    assert stack.sweep() == {"failed": 0, "expired": 0}
    assert _task(stack, task["task_id"])["status"] == "done"
