"""ProcessorFunction: SQS batches of task ids → the worker logic, with partial batch failures."""

from __future__ import annotations

import time
from collections import Counter
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from pixelmill.dal import get_stores
from pixelmill.logic.lease import BatchLease
from pixelmill.logic.processing import TaskDeferred, process_task
from pixelmill.observability import bind_task, logger, publish_metrics, tracer, unbind_task
from pixelmill.settings import get_settings
from pixelmill.stores import TaskMessage

processor = BatchProcessor(event_type=EventType.SQS)

# Time kept back from the Lambda timeout to record a failure and report the batch.
SAFETY_MARGIN_SECONDS = 10.0

# How the records of the current batch ended, for its summary line.
outcomes: Counter[str] = Counter()


def record_handler(
    record: SQSRecord, lambda_context: LambdaContext | None = None, lease: BatchLease | None = None
) -> None:
    """Process one message; raising returns it to the queue (and, in the end, the DLQ)."""
    unbind_task()  # a bad body must not be logged under the previous record's task
    try:
        _handle(record, lambda_context)
    except TaskDeferred:
        if lease is not None:  # not reached before this invocation's deadline: another worker takes it now
            lease.release(record.receipt_handle)
        raise
    except Exception:
        if lease is not None:  # back after the queue's own visibility timeout, as any failed delivery
            lease.retry_later(record.receipt_handle)
        raise
    finally:
        if lease is not None:
            lease.finish(record.receipt_handle)


def _handle(record: SQSRecord, lambda_context: LambdaContext | None) -> None:
    """One message to the worker's logic, counted by how it ended for the batch's line."""
    try:
        message = TaskMessage.model_validate_json(record.body)
    except ValueError:
        outcomes["invalid"] += 1
        raise
    bind_task(task_id=message.task_id)
    settings = get_settings()
    timeout = settings.task_timeout_seconds
    if lambda_context is not None:
        timeout = min(timeout, lambda_context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
    attempt = int(record.attributes.approximate_receive_count)
    try:
        task = process_task(
            message.task_id,
            attempt=attempt,
            stores=get_stores(),
            settings=settings,
            timeout=max(timeout, 1.0),
            queue_wait=max(0.0, time.time() - int(record.attributes.sent_timestamp) / 1000),
        )
    except TaskDeferred:
        logger.info("task deferred to a later invocation")
        outcomes["deferred"] += 1
        raise
    except Exception:
        # On the last delivery the task was marked failed; before it, the message comes back.
        outcomes["failed" if attempt >= settings.max_receive_count else "retried"] += 1
        raise
    outcomes[task.status.value if task is not None else "skipped"] += 1


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@publish_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    unbind_task()
    outcomes.clear()
    receipts = [record["receiptHandle"] for record in event.get("Records", [])]
    try:
        with BatchLease(get_stores().queue, receipts, get_settings().task_visibility_seconds) as lease:
            return process_partial_response(
                event=event, record_handler=partial(record_handler, lease=lease), processor=processor, context=context
            )
    finally:
        unbind_task()
        # Tasks by how they ended: done, failed (for good), retried (back to the queue), deferred,
        # skipped (nothing to do), invalid (not a task message).
        logger.info("batch processed", extra={"records": len(event.get("Records", [])), **outcomes})
