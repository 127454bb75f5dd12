"""A local SQS event-source mapping: one receive → one handler call → delete what succeeded.

As Lambda does it: the handler gets up to BatchSize records; records it reports
in ``batchItemFailures`` (or all of them, if it raises) stay on the queue and
come back after the visibility timeout, until the redrive policy moves them to
the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from infra.events import LocalContext, sqs_event

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class BatchOutcome:
    """What one delivery did: how many records went in, succeeded and failed."""

    received: int
    succeeded: int
    failed: int
    error: BaseException | None = None


def deliver_batch(
    handler: Handler,
    queue_url: str,
    *,
    function_name: str,
    batch_size: int = 10,
    wait_seconds: int = 0,
    timeout_seconds: float = 300.0,
    client: SQSClient | None = None,
) -> BatchOutcome:
    """Receive one batch from ``queue_url`` and deliver it to ``handler`` as Lambda would."""
    sqs = client or boto3.client("sqs")
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=min(batch_size, 10),
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages = response.get("Messages", [])
    if not messages:
        return BatchOutcome(0, 0, 0)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = sqs_event(messages, queue_arn, sqs.meta.region_name)
    context = LocalContext(function_name=function_name, timeout_seconds=timeout_seconds)
    try:
        result = handler(event, context)
    except Exception as error:  # the whole batch failed: every message stays on the queue
        return BatchOutcome(len(messages), 0, len(messages), error)
    failed_ids = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
    done = [message for message in messages if message["MessageId"] not in failed_ids]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(done)],
        )
    return BatchOutcome(len(messages), len(done), len(messages) - len(done))
