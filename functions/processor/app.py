"""ProcessorFunction: SQS batches of task ids → the worker logic, with partial batch failures."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from pixelmill.dal import get_stores
from pixelmill.dal.queue import TaskMessage
from pixelmill.logic.lease import BatchLease
from pixelmill.logic.processing import TaskDeferred, process_task
from pixelmill.observability import logger, metrics, tracer
from pixelmill.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)

# Time kept back from the Lambda timeout to record a failure and report the batch.
SAFETY_MARGIN_SECONDS = 10.0


def record_handler(
    record: SQSRecord, lambda_context: LambdaContext | None = None, lease: BatchLease | None = None
) -> None:
    """Process one message; raising returns it to the queue (and, in the end, the DLQ)."""
    logger.remove_keys(["task_id"])  # a bad body must not be logged under the previous record's task
    try:
        message = TaskMessage.model_validate_json(record.body)
        logger.append_keys(task_id=message.task_id)
        settings = get_settings()
        timeout = settings.task_timeout_seconds
        if lambda_context is not None:
            timeout = min(timeout, lambda_context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
        task = process_task(
            message.task_id,
            attempt=int(record.attributes.approximate_receive_count),
            stores=get_stores(),
            settings=settings,
            timeout=max(timeout, 1.0),
        )
    except TaskDeferred:
        if lease is not None:  # not reached before this invocation's deadline: another worker takes it now
            lease.release(record.receipt_handle)
        raise
    except Exception:
        if lease is not None:
            lease.retry_later(record.receipt_handle)
        raise
    finally:
        if lease is not None:
            lease.finish(record.receipt_handle)
    if task is not None:
        metrics.add_metric(name=f"Task{task.status.value.capitalize()}", unit="Count", value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    receipts = [record["receiptHandle"] for record in event.get("Records", [])]
    with BatchLease(get_stores().queue, receipts, get_settings().task_visibility_seconds) as lease:
        return process_partial_response(
            event=event, record_handler=partial(record_handler, lease=lease), processor=processor, context=context
        )
