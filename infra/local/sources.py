"""Local event sources: what invokes the template's functions besides the API.

- ``SqsEventSource``: a Lambda event-source mapping (``Type: SQS``). Long-polls,
  calls the function with batches of up to ``BatchSize`` real-shaped records,
  deletes only the records the function did not report in
  ``batchItemFailures``; the rest come back after the visibility timeout and,
  after ``maxReceiveCount`` receives, end in the dead-letter queue.
- ``S3EventSource``: S3 event notifications (``Type: S3``). The bucket notifies
  a queue of the local stack's own; each notification becomes the event S3
  would send the function (``{"Records": [...]}``), invoked as S3 invokes
  Lambda: asynchronously, retried twice on error, S3's test event not sent.
  moto's records name no uploader: each gets the ``userIdentity`` S3 gives,
  the principal that wrote the object.
- ``ScheduleEventSource``: ``Type: Schedule`` with a ``rate(...)`` expression.

Every source survives a crashing function and an emulator that restarts or is
reset: it logs, waits and goes on.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.event_source import deliver_batch
from infra.local.runtime import FunctionPool, InvocationError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Log = Callable[..., None]
"""Called with a message and keyword fields for the stack's log."""

# Lambda retries a failed asynchronous invocation twice by default (EventInvokeConfig's
# MaximumRetryAttempts), after about 1 and then 2 minutes.
DEFAULT_ASYNC_RETRIES = 2
ASYNC_RETRY_DELAYS = (60, 120)


class EventSource:
    """A background thread that feeds one function until stopped."""

    name: str

    def __init__(self, function: FunctionPool, log: Log, *, reconnect: Callable[[], None] | None = None) -> None:
        self.function = function
        self.log = log
        self._reconnect = reconnect
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.__class__.__name__, daemon=True)

    def start(self) -> None:
        """Start feeding the function."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current invocation (waiting at most ``timeout`` seconds)."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self.poll()
                backoff = 1.0
            except (BotoCoreError, ClientError) as error:
                # The emulator is down, restarting or was reset: wait, recreate what is missing, go on.
                self.log("event source cannot reach the emulator", source=self.name, error=str(error), level="WARNING")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                if self._reconnect is not None:
                    with contextlib.suppress(BotoCoreError, ClientError):
                        self._reconnect()
            except Exception as error:  # never let a bug in one delivery stop the source
                self.log("event source error", source=self.name, error=repr(error), level="ERROR")
                self._stop.wait(1.0)

    def poll(self) -> None:
        """One round of work; raises botocore errors when the emulator is unreachable."""
        raise NotImplementedError


class SqsEventSource(EventSource):
    """An SQS event-source mapping with partial batch responses."""

    def __init__(
        self,
        function: FunctionPool,
        log: Log,
        *,
        queue_url: str,
        batch_size: int,
        wait_seconds: int = 2,
        reconnect: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(function, log, reconnect=reconnect)
        self.name = f"sqs:{queue_url.rsplit('/', 1)[-1]}→{function.spec.logical_id}"
        self.queue_url = queue_url
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self._sqs: SQSClient = boto3.client("sqs")

    def poll(self) -> None:
        """Receive one batch and deliver it."""
        outcome = deliver_batch(
            self._invoke,
            self.queue_url,
            function_name=self.function.spec.logical_id,
            batch_size=self.batch_size,
            wait_seconds=self.wait_seconds,
            timeout_seconds=self.function.spec.timeout_seconds,
            client=self._sqs,
        )
        if outcome.received:
            # Messages, not tasks: a task that failed for good is a message handled (deleted);
            # the function's own "batch processed" line counts the tasks by outcome.
            self.log(
                "batch delivered",
                source=self.name,
                messages=outcome.received,
                deleted=outcome.succeeded,
                returned=outcome.failed,
                error=str(outcome.error) if outcome.error else None,
                level="WARNING" if outcome.failed else "INFO",
            )

    def _invoke(self, event: dict[str, Any], _context: Any) -> Any:
        return self.function.invoke(event).result


class S3EventSource(EventSource):
    """S3 notifications, delivered through a queue of the stack's own, invoked asynchronously."""

    def __init__(
        self,
        function: FunctionPool,
        log: Log,
        *,
        queue_url: str,
        retries: int = DEFAULT_ASYNC_RETRIES,
        dead_letter_url: str | None = None,
        reconnect: Callable[[], None] | None = None,
        writer_of: Callable[[str, str], str | None] | None = None,
    ) -> None:
        super().__init__(function, log, reconnect=reconnect)
        self.name = f"s3→{function.spec.logical_id}"
        self.writer_of = writer_of
        self.queue_url = queue_url
        self.retries = retries
        self.dead_letter_url = dead_letter_url
        self._sqs: SQSClient = boto3.client("sqs")

    def poll(self) -> None:
        """Receive notifications and invoke the function once per notification."""
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2, MessageSystemAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            self._deliver(message)

    @staticmethod
    def _name_uploader(record: dict[str, Any], writer_of: Callable[[str, str], str | None]) -> None:
        """Add the ``userIdentity`` S3 puts in a record (who wrote the object), if moto left it out."""
        if record.get("userIdentity", {}).get("principalId"):
            return
        bucket = record.get("s3", {}).get("bucket", {}).get("name", "")
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
        principal = writer_of(bucket, key)
        if principal is not None:
            record["userIdentity"] = {"principalId": principal}

    def _deliver(self, message: Any) -> None:
        receipt = message["ReceiptHandle"]
        event = json.loads(message["Body"])
        if "Records" not in event:  # s3:TestEvent: S3 sends it to queues, never to a function
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
            return
        if self.writer_of is not None:
            for record in event["Records"]:
                self._name_uploader(record, self.writer_of)
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        keys = [record.get("s3", {}).get("object", {}).get("key") for record in event["Records"]]
        try:
            invocation = self.function.invoke(event)
        except InvocationError as error:
            if attempt <= self.retries:
                delay = ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS)) - 1]
                self.log(
                    "S3 event failed; retrying",
                    source=self.name,
                    keys=keys,
                    attempt=attempt,
                    delay=delay,
                    error=str(error),
                    level="WARNING",
                )
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=delay
                )
                return
            if self.dead_letter_url is not None:
                # What Lambda puts in a function's dead-letter queue: the event as the function
                # got it (the uploader named), and why it failed.
                self._sqs.send_message(
                    QueueUrl=self.dead_letter_url,
                    MessageBody=json.dumps(event),
                    MessageAttributes={
                        "ErrorCode": {"DataType": "String", "StringValue": error.error_type},
                        "ErrorMessage": {"DataType": "String", "StringValue": error.message[:1000] or "-"},
                    },
                )
                self.log(
                    "S3 event kept in the dead-letter queue",
                    source=self.name,
                    keys=keys,
                    error=str(error),
                    level="ERROR",
                )
            else:
                self.log(
                    "S3 event dropped after the last retry",
                    source=self.name,
                    keys=keys,
                    error=str(error),
                    level="ERROR",
                )
        else:
            self.log("S3 event delivered", source=self.name, keys=keys, duration_ms=round(invocation.duration_ms, 1))
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """Seconds between runs of an EventBridge ``rate(...)`` expression."""
    found = _RATE.match(expression.strip())
    if found is None:
        raise ValueError(f"only rate(...) schedules run locally, not {expression!r}")
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


class ScheduleEventSource(EventSource):
    """An EventBridge schedule: the function is invoked with a Scheduled Event every interval."""

    def __init__(self, function: FunctionPool, log: Log, *, rule: str, interval: float, region: str) -> None:
        super().__init__(function, log)
        self.name = f"schedule:{rule}→{function.spec.logical_id}"
        self.rule = rule
        self.interval = interval
        self.region = region
        self._next = time.monotonic() + interval

    def poll(self) -> None:
        """Sleep until the next run, then invoke."""
        if self._stop.wait(max(0.0, self._next - time.monotonic())):
            return
        self._next += self.interval
        try:
            invocation = self.function.invoke(scheduled_event(self.rule, self.region))
            self.log("schedule ran", source=self.name, result=invocation.result)
        except InvocationError as error:
            self.log("schedule failed", source=self.name, error=str(error), level="ERROR")


def scheduled_event(rule: str, region: str, account: str = "123456789012") -> dict[str, Any]:
    """The event EventBridge sends a function for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }
