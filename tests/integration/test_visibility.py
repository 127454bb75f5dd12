"""A dead worker costs its tasks about a visibility period, not the queue's whole
timeout: the live worker's heartbeat, messages released before the deadline, and
tasks whose messages expired unreceived failed by the sweeper."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3

from infra.event_source import deliver_batch
from pixelmill.dal import get_stores
from pixelmill.logic.lease import BatchLease
from pixelmill.models.ids import new_task_id
from pixelmill.models.task import TaskStatus
from tests.imagegen import jpeg_bytes
from tests.integration.conftest import Stack


def _create(stack: Stack) -> str:
    task_id: str = stack.create_task(stack.upload(jpeg_bytes(64, 48)), "resize", {"width": 8})["task_id"]
    return task_id


def _receivable(stack: Stack) -> int:
    """How many messages a receive gets now (they are hidden again for a second, then back)."""
    received = boto3.client("sqs").receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=1
    )
    return len(received.get("Messages", []))


def test_the_heartbeat_keeps_a_batch_hidden_and_a_dead_worker_gives_it_back_soon(stack: Stack) -> None:
    # Given two messages received with a short visibility
    for _ in range(2):
        _create(stack)
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=2)["Messages"]
    assert len(messages) == 2

    # When a worker holds them with a 3 s lease for longer than either visibility
    with BatchLease(get_stores().queue, [m["ReceiptHandle"] for m in messages], visibility=3):
        time.sleep(4)
        # Then nobody else can receive them
        assert _receivable(stack) == 0

    # And once the heartbeat stops (the worker died), they are back within the lease's 3 s
    time.sleep(3.5)
    assert _receivable(stack) == 2
    time.sleep(1.5)
    stack.process_batch()


def test_messages_the_worker_cannot_reach_before_its_deadline_are_released_at_once(stack: Stack) -> None:
    # Given two tasks, and an invocation with less time left than a task's timeout
    task_ids = [_create(stack), _create(stack)]

    # When the batch is delivered
    outcome = deliver_batch(
        stack.processor.lambda_handler, stack.queue_url, function_name="ProcessorFunction", timeout_seconds=20
    )

    # Then both went back untouched and can be received again at once (not after the queue's 300 s)
    assert (outcome.received, outcome.failed) == (2, 2)
    assert _receivable(stack) == 2
    for task_id in task_ids:
        assert stack.task(task_id)["status"] == "queued"
    time.sleep(1.5)
    assert stack.process_batch().succeeded == 2


def test_the_sweeper_fails_tasks_whose_messages_expired_unreceived(stack: Stack) -> None:
    # Given a task queued five days ago whose message is gone (past the queue's 4-day retention) ...
    fresh = _create(stack)
    stores = get_stores()
    current = stores.tasks.get(fresh)
    assert current is not None
    five_days_ago = datetime.now(UTC) - timedelta(days=5)
    old = current.model_copy(
        update={
            "task_id": new_task_id(now_ms=int(five_days_ago.timestamp() * 1000)),
            "created_at": five_days_ago,
            "updated_at": five_days_ago,
        }
    )
    stores.tasks.create(old)

    # When the sweeper runs
    assert stack.sweep() == {"failed": 0, "expired": 1}

    # Then that task is failed with the reason, and one queued just now is left alone
    expired = stores.tasks.get(old.task_id)
    assert expired is not None
    assert expired.status is TaskStatus.FAILED
    assert expired.error is not None
    assert expired.error.code == "message_expired"
    assert stack.task(fresh)["status"] == "queued"
    stack.process_batch()
