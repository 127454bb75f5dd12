"""Keep the local stack's data across restarts: save on stop, restore on start.

moto keeps everything in memory. On a clean stop the stack writes what its
resources hold to a folder, and on the next start (after the template's
resources are provisioned) puts it back:

- IAM: every user with its unique id (the tenant that owns its tasks) and keys;
- S3: every object with its content type, user metadata and tags;
- DynamoDB: every item, exactly as stored;
- SQS: every message, including those in flight (invisible until their
  visibility timeout), which is why this reads moto's own queue objects: the
  SQS API cannot see a message while it is invisible. Restored messages are
  visible at once and their receive counts start again from zero.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from infra.local.iam import User, put_user, users

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

SNAPSHOT_FILE = "snapshot.json"
OBJECTS_DIR = "objects"
FORMAT_VERSION = 2


def save(
    directory: Path, *, buckets: list[str], tables: list[str], queues: dict[str, str], account: str
) -> dict[str, int]:
    """Write the content of ``buckets``, ``tables`` and ``queues`` (name → URL) to ``directory``.

    The new snapshot replaces the old one only once it is complete. Returns counts per kind.
    """
    s3: S3Client = boto3.client("s3")
    dynamodb: DynamoDBClient = boto3.client("dynamodb")
    staging = directory.with_name(directory.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / OBJECTS_DIR).mkdir(parents=True)

    objects: list[dict[str, Any]] = []
    for bucket in buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=item["Key"])
                data = got["Body"].read()
                tags = s3.get_object_tagging(Bucket=bucket, Key=item["Key"]).get("TagSet", [])
                name = hashlib.sha256(f"{bucket}/{item['Key']}".encode()).hexdigest()
                (staging / OBJECTS_DIR / name).write_bytes(data)
                objects.append(
                    {
                        "bucket": bucket,
                        "key": item["Key"],
                        "file": name,
                        "content_type": got.get("ContentType"),
                        "metadata": got.get("Metadata", {}),
                        "tags": tags,
                    }
                )

    items: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        items[table] = []
        for scanned in dynamodb.get_paginator("scan").paginate(TableName=table):
            items[table].extend(scanned.get("Items", []))

    messages = {name: _queue_messages(url, account) for name, url in queues.items()}

    kept_users = [{"name": u.name, "user_id": u.user_id, "keys": [list(key) for key in u.keys]} for u in users(account)]
    snapshot = {
        "version": FORMAT_VERSION,
        "users": kept_users,
        "objects": objects,
        "items": items,
        "messages": messages,
    }
    (staging / SNAPSHOT_FILE).write_text(json.dumps(snapshot))
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)
    return {
        "users": len(kept_users),
        "objects": len(objects),
        "items": sum(len(table_items) for table_items in items.values()),
        "messages": sum(len(queue_messages) for queue_messages in messages.values()),
    }


def restore(directory: Path, *, queues: dict[str, str], account: str) -> dict[str, int]:
    """Put back what ``save`` wrote (nothing if there is no snapshot). Returns counts per kind."""
    path = directory / SNAPSHOT_FILE
    if not path.exists():
        return {"users": 0, "objects": 0, "items": 0, "messages": 0}
    snapshot = json.loads(path.read_text())
    if snapshot.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format {snapshot.get('version')}, expected {FORMAT_VERSION}")
    s3: S3Client = boto3.client("s3")
    dynamodb: DynamoDBClient = boto3.client("dynamodb")
    sqs: SQSClient = boto3.client("sqs")
    iam = boto3.client("iam")
    for user in snapshot["users"]:
        put_user(iam, account, User(user["name"], user["user_id"], tuple((k, v) for k, v in user["keys"])))
    for entry in snapshot["objects"]:
        extra: dict[str, Any] = {"Metadata": entry["metadata"]}
        if entry.get("content_type"):
            extra["ContentType"] = entry["content_type"]
        body = (directory / OBJECTS_DIR / entry["file"]).read_bytes()
        s3.put_object(Bucket=entry["bucket"], Key=entry["key"], Body=body, **extra)
        if entry["tags"]:
            s3.put_object_tagging(Bucket=entry["bucket"], Key=entry["key"], Tagging={"TagSet": entry["tags"]})
    for table, table_items in snapshot["items"].items():
        for item in table_items:
            dynamodb.put_item(TableName=table, Item=item)
    restored_messages = 0
    for name, queue_messages in snapshot["messages"].items():
        url = queues.get(name)
        if url is None:
            continue  # a queue the template no longer declares
        for message in queue_messages:
            sqs.send_message(QueueUrl=url, MessageBody=message["body"], MessageAttributes=message["attributes"])
            restored_messages += 1
    return {
        "users": len(snapshot["users"]),
        "objects": len(snapshot["objects"]),
        "items": sum(len(table_items) for table_items in snapshot["items"].values()),
        "messages": restored_messages,
    }


def _queue_messages(url: str, account: str) -> list[dict[str, Any]]:
    """Every message of the queue at ``url``, visible or not, from moto's in-process backend."""
    from moto.sqs.models import sqs_backends  # the emulator runs in this process

    region = boto3.client("sqs").meta.region_name
    queue = sqs_backends[account][region].queues.get(url.rsplit("/", 1)[-1])
    if queue is None:
        return []
    return [
        {"body": message.body, "attributes": _attributes(message.message_attributes)}
        for message in list(queue._messages)
    ]


def _attributes(stored: dict[str, Any]) -> dict[str, Any]:
    """moto's stored message attributes in the shape ``SendMessage`` takes."""
    attributes: dict[str, Any] = {}
    for name, value in stored.items():
        data_type = value.get("data_type", "String")
        if "binary_value" in value:
            raw = value["binary_value"]
            attributes[name] = {
                "DataType": data_type,
                "BinaryValue": base64.b64decode(raw) if isinstance(raw, str) else raw,
            }
        else:
            attributes[name] = {"DataType": data_type, "StringValue": str(value.get("string_value", ""))}
    return attributes
