"""``pixelmill admin``: an operator's commands on a deployed stack (or the local one).

They talk to the stack's AWS resources directly, not to the API: an operator acts on
every owner's tasks, which no API caller may. The stack's resources are found by its
name (CloudFormation outputs, as ``sam deploy`` leaves them; the local stack publishes
the same outputs on its emulator) and reached with boto3's standard credential chain
(profiles, environment, SSO, instance roles) and ``AWS_ENDPOINT_URL`` if set.

- ``redrive tasks``: every message in TaskDeadLetterQueue runs its task again (the task,
  failed by the worker or the sweeper, becomes ``queued``; the message goes back to TaskQueue).
- ``redrive uploads``: every S3 notification in IngestDeadLetterQueue is handed back to
  IngestFunction as it was (invoked asynchronously, as S3 invokes it).
- ``rerun``: failed tasks (by id, or the newest failed ones, filtered by error code and age)
  become ``queued`` again and are sent to TaskQueue. Their id, owner and arguments stay.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote_plus

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# Statuses a task may be re-run from: failed, or still unfinished when its message was dead-lettered
# before the sweeper got to it. Never done or cancelled.
RERUNNABLE = ("failed", "new", "queued", "processing")
# How long a message read from a dead-letter queue stays hidden while it is handled.
HIDE_SECONDS = 120
LOCAL_ENDPOINT = "http://127.0.0.1:5005"
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class StackResources:
    """What the admin commands act on, from the stack's outputs."""

    tasks_table: str
    task_queue_url: str
    task_dead_letter_queue_url: str
    ingest_dead_letter_queue_url: str
    ingest_function_name: str | None = None
    ingest_event_queue_url: str | None = None
    """On the local stack: the queue its S3 events reach IngestFunction through (no Lambda API there)."""

    @classmethod
    def of_stack(cls, stack_name: str, session: boto3.Session) -> StackResources:
        """The resources of the deployed (or local) stack ``stack_name``."""
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        try:
            return cls(
                tasks_table=outputs["TasksTableName"],
                task_queue_url=outputs["TaskQueueUrl"],
                task_dead_letter_queue_url=outputs["TaskDeadLetterQueueUrl"],
                ingest_dead_letter_queue_url=outputs["IngestDeadLetterQueueUrl"],
                ingest_function_name=outputs.get("IngestFunctionName"),
                ingest_event_queue_url=outputs.get("IngestFunctionEventQueueUrl"),
            )
        except KeyError as missing:
            raise ValueError(f"stack {stack_name} has no output {missing}: is it a pixelmill stack?") from None


@dataclass
class Report:
    """What a command did, one line per item, and counts by outcome."""

    lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, line: str) -> None:
        self.lines.append(f"{outcome:<10} {line}")
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def summary(self) -> str:
        return ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.counts.items())) or "nothing to do"


class Admin:
    """The operator's actions on one stack's resources."""

    def __init__(self, resources: StackResources, session: boto3.Session) -> None:
        self.resources = resources
        self._sqs: SQSClient = session.client("sqs")
        self._dynamodb: DynamoDBClient = session.client("dynamodb")
        self._lambda: Any = session.client("lambda")  # no type stubs for Lambda in the lock

    # --- tasks --------------------------------------------------------------------------

    def redrive_tasks(self, *, limit: int, dry_run: bool = False) -> Report:
        """Run again the task of every message in TaskDeadLetterQueue (at most ``limit``)."""
        report = Report()
        for message in self._messages(self.resources.task_dead_letter_queue_url, limit):
            try:
                task_id = str(json.loads(message["Body"])["task_id"])
            except (ValueError, KeyError, TypeError):
                report.add("skipped", f"message {message['MessageId']}: names no task (left in the queue)")
                self._release(self.resources.task_dead_letter_queue_url, message)
                continue
            if dry_run:
                report.add("would run", f"task {task_id}")
                self._release(self.resources.task_dead_letter_queue_url, message)
                continue
            report.add(self._requeue(task_id), f"task {task_id}")
            self._sqs.delete_message(
                QueueUrl=self.resources.task_dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return report

    def rerun_failed(
        self,
        task_ids: list[str],
        *,
        code: str | None = None,
        since: datetime | None = None,
        limit: int,
        dry_run: bool = False,
    ) -> Report:
        """Run again the failed tasks ``task_ids``, or else the newest failed ones (at most
        ``limit``, only those with error ``code`` and created at or after ``since`` if given)."""
        report = Report()
        candidates = (
            (self._task(task_id) or {"task_id": task_id} for task_id in task_ids)
            if task_ids
            else self._failed_tasks(code=code, since=since)
        )
        for count, task in enumerate(candidates):
            if count >= limit:
                break
            task_id = str(task["task_id"])
            if task_ids and task.get("status") != "failed":
                report.add("skipped", f"task {task_id}: {task.get('status', 'not found')}, not failed")
                continue
            error = task.get("error") or {}
            detail = f"task {task_id} {task.get('function_type', '')} ({error.get('code', '?')})"
            report.add("would run" if dry_run else self._requeue(task_id, only_failed=True), detail)
        return report

    def _requeue(self, task_id: str, *, only_failed: bool = False) -> str:
        """Make the task ``queued`` again (error and duration cleared) and send it to TaskQueue."""
        allowed = ("failed",) if only_failed else RERUNNABLE
        statuses = {f":s{i}": {"S": status} for i, status in enumerate(allowed)}
        try:
            self._dynamodb.update_item(
                TableName=self.resources.tasks_table,
                Key={"task_id": {"S": task_id}},
                # Back in its owner's count of unfinished tasks (the service's quota reads it).
                UpdateExpression=(
                    "SET #status = :queued, #progress = :zero, #updated = :now, #unfinished = #owner"
                    " REMOVE #error, #duration"
                ),
                ConditionExpression=f"attribute_exists(task_id) AND #status IN ({', '.join(statuses)})",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#progress": "progress",
                    "#updated": "updated_at",
                    "#error": "error",
                    "#duration": "duration",
                    "#unfinished": "unfinished_owner",
                    "#owner": "owner",
                },
                ExpressionAttributeValues={
                    ":queued": {"S": "queued"},
                    ":zero": {"N": "0"},
                    # As the service writes it (pydantic's JSON of an aware UTC datetime).
                    ":now": {"S": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
                    **statuses,
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return "gone"  # deleted, or finished (done, cancelled) meanwhile: nothing to run
            raise
        self._sqs.send_message(QueueUrl=self.resources.task_queue_url, MessageBody=json.dumps({"task_id": task_id}))
        return "requeued"

    def _task(self, task_id: str) -> dict[str, Any] | None:
        item = self._dynamodb.get_item(
            TableName=self.resources.tasks_table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        ).get("Item")
        return _plain(item) if item else None

    def _failed_tasks(self, *, code: str | None, since: datetime | None) -> Iterator[dict[str, Any]]:
        """Every owner's failed tasks, newest first.

        The table's indexes are each owner's; an operator's view of all owners is a scan
        (filtered on the server; tasks expire after TaskTtlDays, so the table stays small).
        """
        scan: dict[str, Any] = {
            "TableName": self.resources.tasks_table,
            "FilterExpression": "#status = :failed",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":failed": {"S": "failed"}},
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self._dynamodb.scan(**scan)
            found += [_plain(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        # Task ids are ULIDs: sorted by creation time.
        for task in sorted(found, key=lambda task: str(task["task_id"]), reverse=True):
            if since is not None and _created(task) < since:
                return
            if code is None or (task.get("error") or {}).get("code") == code:
                yield task

    # --- uploads ------------------------------------------------------------------------

    def redrive_uploads(self, *, limit: int, dry_run: bool = False) -> Report:
        """Hand every S3 notification in IngestDeadLetterQueue back to IngestFunction, as it
        was (the uploader it names decides the owner of an incoming/ file's task)."""
        report = Report()
        queue_url = self.resources.ingest_dead_letter_queue_url
        for message in self._messages(queue_url, limit):
            try:
                records = json.loads(message["Body"])["Records"]
                keys = [f"s3://{r['s3']['bucket']['name']}/{unquote_plus(r['s3']['object']['key'])}" for r in records]
            except (ValueError, KeyError, TypeError):
                report.add("skipped", f"message {message['MessageId']}: not an S3 event (left in the queue)")
                self._release(queue_url, message)
                continue
            if dry_run:
                report.add("would send", " ".join(keys))
                self._release(queue_url, message)
                continue
            self._deliver_upload_event(message["Body"])
            self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.add("redelivered", " ".join(keys))
        return report

    def _deliver_upload_event(self, body: str) -> None:
        """Invoke IngestFunction with the event asynchronously, as S3 does (Lambda retries it,
        then dead-letters it again); on the local stack, through the queue that feeds it."""
        if self.resources.ingest_event_queue_url:
            self._sqs.send_message(QueueUrl=self.resources.ingest_event_queue_url, MessageBody=body)
            return
        if not self.resources.ingest_function_name:
            raise ValueError("the stack has no IngestFunctionName output: deploy this version of the template")
        self._lambda.invoke(
            FunctionName=self.resources.ingest_function_name, InvocationType="Event", Payload=body.encode()
        )

    def _release(self, queue_url: str, message: MessageTypeDef) -> None:
        """Make a message read but left in the queue visible again at once."""
        self._sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    def _messages(self, queue_url: str, limit: int) -> Iterator[MessageTypeDef]:
        """Up to ``limit`` messages of ``queue_url``, each once (hidden while handled)."""
        seen: set[str] = set()
        while len(seen) < limit:
            batch = self._sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=HIDE_SECONDS,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            fresh = [message for message in batch if message["MessageId"] not in seen]
            for message in batch:
                if message["MessageId"] in seen:  # released earlier (a dry run): release it again
                    self._release(queue_url, message)
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                yield message


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _created(task: dict[str, Any]) -> datetime:
    created = datetime.fromisoformat(str(task["created_at"]).replace("Z", "+00:00"))
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``pixelmill admin …`` (parsed by ``pixelmill_cli.main``): prints one line per item and a summary."""
    if args.local:
        # The emulator takes any credentials; boto3 reads AWS_ENDPOINT_URL for every client.
        os.environ.setdefault("AWS_ENDPOINT_URL", LOCAL_ENDPOINT)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    try:
        session = boto3.Session(
            profile_name=args.profile, region_name=args.region or (_local_region() if args.local else None)
        )
        admin = Admin(StackResources.of_stack(args.stack, session), session)
        if args.action == "redrive":
            redrive = admin.redrive_tasks if args.queue == "tasks" else admin.redrive_uploads
            report = redrive(limit=args.limit, dry_run=args.dry_run)
        else:
            report = admin.rerun_failed(
                args.task_ids, code=args.code, since=args.since, limit=args.limit, dry_run=args.dry_run
            )
    except (BotoCoreError, ClientError, ValueError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    for line in report.lines:
        out.write(line + "\n")
    out.write(report.summary() + "\n")
    return 0


def _local_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
