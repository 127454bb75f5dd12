"""The SQS queue of task ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pixelmill.dal.errors import domain_errors
from pixelmill.stores import DeadLetter, TaskMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@domain_errors
class SqsTaskQueue:
    """Sends task ids to the processor's SQS queue (a TaskQueue)."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, task_id: str) -> None:
        """Queue ``task_id`` for processing."""
        body = json.dumps(TaskMessage(task_id=task_id).model_dump())
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)


@domain_errors
class SqsDeadLetterQueue:
    """Reads the dead-letter queue without emptying it: its messages stay for inspection and redrive."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def browse(self, *, hide_seconds: int = 120, max_batches: int = 100) -> Iterator[DeadLetter]:
        """Each message now in the queue once (at most ``max_batches`` × 10), none deleted.

        Every message read is hidden for ``hide_seconds`` so that one pass does
        not see it twice; then it is visible again, still in the queue.
        """
        seen: set[str] = set()
        for _ in range(max_batches):
            response = self._client.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10, VisibilityTimeout=hide_seconds, WaitTimeSeconds=0
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                return
            for message in messages:
                seen.add(message["MessageId"])
                yield DeadLetter(message_id=message["MessageId"], body=message["Body"])
