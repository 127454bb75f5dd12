"""The SQS queue of task ids."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import BaseModel

from pixelmill.models.ids import TaskId

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class TaskMessage(BaseModel):
    """The body of a queue message: only the id; the task record holds the rest."""

    task_id: TaskId


class TaskQueue:
    """Sends task ids to the processor's queue."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, task_id: str) -> None:
        """Queue ``task_id`` for processing."""
        body = json.dumps(TaskMessage(task_id=task_id).model_dump())
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)
