"""The DynamoDB table of tasks.

Items are the ``Task`` model plus ``expires_at`` (the TTL) and two keys of
indexes: ``owner_image`` (``<owner>#<image_id>``) and ``unfinished_owner`` (the
owner, removed once the task is finished: a sparse index of unfinished tasks).
Three indexes, each partitioned by owner, so that a tenant's listing reads only
its own tasks and no partition is shared by every caller, all sorted by
``task_id`` (a ULID, so by creation time): ``ByOwner``, ``ByOwnerImage`` and
``ByOwnerUnfinished`` (keys only: it is counted for the quota). Listing never scans.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic_core import to_jsonable_python

from pixelmill.dal.errors import domain_errors
from pixelmill.errors import InvalidRequest, TaskExists
from pixelmill.models.task import UNFINISHED_STATUSES, Task, TaskStatus, utcnow
from pixelmill.observability import traced
from pixelmill.stores import TaskPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

UNFINISHED_OWNER = "unfinished_owner"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    """JSON-shaped data as DynamoDB accepts it (floats become Decimals)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(item) for item in value]
    return value


def _from_dynamo(value: Any) -> Any:
    """The inverse of ``_to_dynamo``: Decimals become ints or floats again."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(item) for item in value]
    return value


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_to_dynamo(value)) for key, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamo(_deserializer.deserialize(value)) for key, value in item.items()}


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@domain_errors
class DynamoTaskStore:
    """Creates, reads, moves through statuses, lists and deletes task records in DynamoDB (a TaskStore)."""

    def __init__(self, client: DynamoDBClient, table: str, ttl: timedelta = timedelta(days=30)) -> None:
        self._client = client
        self._table = table
        self._ttl = ttl

    def create(self, task: Task) -> None:
        """Store a new task; TaskExists if its id is already taken (a conditional write)."""
        item = task.model_dump(mode="json", exclude_none=True)
        item["owner_image"] = _owner_image(task.owner, task.image_id)
        if task.status in UNFINISHED_STATUSES:
            item[UNFINISHED_OWNER] = task.owner
        item["expires_at"] = int((task.created_at + self._ttl).timestamp())
        try:
            with traced("dynamodb put task"):
                self._client.put_item(
                    TableName=self._table, Item=_serialize(item), ConditionExpression="attribute_not_exists(task_id)"
                )
        except ClientError as error:
            if _conditional_failed(error):
                raise TaskExists(f"task {task.task_id} exists") from None
            raise

    def get(self, task_id: str) -> Task | None:
        """The task, or None if there is no such task."""
        response = self._client.get_item(
            TableName=self._table, Key=_serialize({"task_id": task_id}), ConsistentRead=True
        )
        item = response.get("Item")
        return Task.model_validate(_deserialize(item)) if item else None

    def transition(
        self, task_id: str, to: TaskStatus, allowed_from: Collection[TaskStatus], **changes: Any
    ) -> Task | None:
        """Move a task to status ``to`` if it now is in ``allowed_from``, setting ``changes`` too.

        Returns the updated task, or None when the task is gone or in another
        status (a conditional write: two workers never both win).
        """
        return self._update(task_id, {"status": to.value, **changes}, allowed_from)

    def set_progress(self, task_id: str, progress: int) -> None:
        """Record progress of a task that is still processing (silently skipped otherwise)."""
        self._update(task_id, {"progress": progress}, [TaskStatus.PROCESSING])

    def _update(self, task_id: str, changes: Mapping[str, Any], allowed_from: Collection[TaskStatus]) -> Task | None:
        values = {**changes, "updated_at": utcnow()}
        names = {f"#f{i}": name for i, name in enumerate(values)}
        expression_values = {f":v{i}": to_jsonable_python(value) for i, value in enumerate(values.values())}
        allowed = {f":s{i}": status.value for i, status in enumerate(allowed_from)}
        names["#status"] = "status"
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        if "status" in changes and TaskStatus(changes["status"]).is_terminal:
            update += f" REMOVE {UNFINISHED_OWNER}"  # out of the owner's count of unfinished tasks
        # Subsegment names are one per kind of write: the status written, or "progress".
        write = changes.get("status", next(iter(changes)))
        try:
            with traced(f"dynamodb update task {write}"):
                response = self._client.update_item(
                    TableName=self._table,
                    Key=_serialize({"task_id": task_id}),
                    UpdateExpression=update,
                    ConditionExpression=f"attribute_exists(task_id) AND #status IN ({', '.join(allowed)})",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=_serialize({**expression_values, **allowed}),
                    ReturnValues="ALL_NEW",
                )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return Task.model_validate(_deserialize(response["Attributes"]))

    def delete(self, task_id: str) -> None:
        """Remove the task record (nothing happens if it is not there)."""
        self._client.delete_item(TableName=self._table, Key=_serialize({"task_id": task_id}))

    def count_unfinished(self, owner: str, *, up_to: int) -> int:
        """How many of ``owner``'s tasks are unfinished, counted up to ``up_to`` (a quota needs no more)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "ByOwnerUnfinished",
            "Select": "COUNT",
            "KeyConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": UNFINISHED_OWNER},
            "ExpressionAttributeValues": _serialize({":owner": owner}),
        }
        count = 0
        while count < up_to:
            response = self._client.query(**query)
            count += response.get("Count", 0)
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return count

    def unfinished_task_ids(self) -> Iterator[str]:
        """The id of every unfinished task, of every owner (the sweeper's view: the sparse
        index of unfinished tasks holds only those)."""
        scan: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "ByOwnerUnfinished",
            "ProjectionExpression": "task_id",
        }
        while True:
            response = self._client.scan(**scan)
            for item in response.get("Items", []):
                yield str(_deserialize(item)["task_id"])
            if "LastEvaluatedKey" not in response:
                return
            scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def page(
        self,
        owner: str,
        *,
        limit: int,
        cursor: str | None = None,
        status: TaskStatus | None = None,
        image_id: str | None = None,
    ) -> TaskPage:
        """``owner``'s tasks newest first, from a cursor of a previous page; filtered by status and/or image.

        The status is a filter on the owner's (or the owner's image's) index, so
        a page may hold fewer than ``limit`` tasks and still have a next one.
        """
        # Both indexes are partitioned by owner (and image) and sorted by task_id.
        if image_id is not None:
            index, partition, value = "ByOwnerImage", "owner_image", _owner_image(owner, image_id)
        else:
            index, partition, value = "ByOwner", "owner", owner
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "ScanIndexForward": False,
            "Limit": limit,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": partition},
        }
        values: dict[str, Any] = {":pk": value}
        if status is not None:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"]["#status"] = "status"
            values[":status"] = status.value
        query["ExpressionAttributeValues"] = _serialize(values)
        if cursor:
            query["ExclusiveStartKey"] = _serialize(_decode_cursor(cursor, partition, value))
        response = self._client.query(**query)
        tasks = [Task.model_validate(_deserialize(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return TaskPage(tasks=tasks, cursor=_encode_cursor(_deserialize(last)) if last else None)


def _owner_image(owner: str, image_id: str) -> str:
    return f"{owner}#{image_id}"


def _encode_cursor(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, partition: str, value: str) -> dict[str, str]:
    """The LastEvaluatedKey a cursor encodes, if it was issued for this listing (the
    index partitioned by ``partition`` at ``value``); InvalidRequest otherwise."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        key = None
    if (
        not isinstance(key, dict)
        or set(key) != {"task_id", partition}
        or key[partition] != value
        or not isinstance(key["task_id"], str)
    ):
        raise InvalidRequest.for_field(
            "cursor", "not a cursor of this listing: take it from the Link header of the previous page, same filters"
        )
    return key
