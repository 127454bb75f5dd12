"""The SQS queue of task ids."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pixelmill.dal.errors import domain_errors
from pixelmill.observability import logger
from pixelmill.stores import DeadLetter, TaskMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


# What SQS answers for a receipt handle whose message was deleted or received again since.
_GONE = frozenset(
    {
        "ReceiptHandleIsInvalid",
        "InvalidParameterValue",
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
    }
)


@domain_errors
class SqsTaskQueue:
    """Sends task ids to the processor's SQS queue, and keeps received ones hidden while they are
    worked on (a TaskQueue)."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, task_id: str) -> None:
        """Queue ``task_id`` for processing."""
        body = json.dumps(TaskMessage(task_id=task_id).model_dump())
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)

    def visibility_timeout(self) -> int:
        """The queue's own visibility timeout: how long a failed delivery waits before its retry."""
        attributes = self._client.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["VisibilityTimeout"])
        return int(attributes["Attributes"]["VisibilityTimeout"])

    def set_visibility(self, receipt_handles: Sequence[str], seconds: int) -> None:
        """Hide the received messages of ``receipt_handles`` for ``seconds`` from now (0: visible
        at once). Messages already deleted or whose receipt went stale are skipped.

        One ChangeMessageVisibility call per message (a batch is at most 10): the batch API
        is authorised by the same IAM action, but one call each keeps the role's grant plain.
        """
        for handle in receipt_handles:
            try:
                self._client.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=handle, VisibilityTimeout=seconds
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in _GONE:
                    raise
                logger.info(
                    "visibility not changed: the message is gone", extra={"code": error.response["Error"].get("Code")}
                )


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
