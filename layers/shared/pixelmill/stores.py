"""What logic needs of storage: the interfaces of the task store, the image
store, the task queue and its dead letters, and the values they pass.

No boto3 here. ``pixelmill.dal`` implements these on DynamoDB, S3 and SQS and
turns every AWS SDK error into ``StoreUnavailable`` (worth a retry); the logic
unit tests implement them in memory.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from pixelmill.models.ids import TaskId
from pixelmill.models.task import Task, TaskStatus


@dataclass(frozen=True)
class StoredImage:
    """What the image store knows of an object without downloading it."""

    key: str
    size: int
    content_type: str
    last_modified: datetime
    metadata: dict[str, str]
    etag: str = ""
    version_id: str | None = None


@dataclass(frozen=True)
class FetchedImage:
    """An object's bytes with its type, ETag, time written and user metadata, read in one request."""

    data: bytes
    content_type: str
    etag: str
    last_modified: datetime
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PresignedUpload:
    """A presigned POST: the form's URL and the fields to send before the file."""

    url: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class TaskPage:
    """One page of tasks and the cursor of the next, if any."""

    tasks: list[Task]
    cursor: str | None


class TaskMessage(BaseModel):
    """The body of a queue message: only the id; the task record holds the rest."""

    task_id: TaskId


@dataclass(frozen=True)
class DeadLetter:
    """A message in the dead-letter queue: its id and body, as it was sent."""

    message_id: str
    body: str


class TaskStore(Protocol):
    """Task records, with conditional status changes."""

    def create(self, task: Task) -> None:
        """Store a new task; TaskExists if its id is taken."""

    def get(self, task_id: str) -> Task | None:
        """The task, or None if there is no such task."""

    def transition(
        self, task_id: str, to: TaskStatus, allowed_from: Collection[TaskStatus], **changes: Any
    ) -> Task | None:
        """Move a task to ``to`` if it now is in ``allowed_from`` (with ``changes``); None when it is not."""

    def set_progress(self, task_id: str, progress: int) -> None:
        """Record progress of a task that is still processing (silently skipped otherwise)."""

    def delete(self, task_id: str) -> None:
        """Remove the task record (nothing happens if it is not there)."""

    def count_unfinished(self, owner: str, *, up_to: int) -> int:
        """How many of ``owner``'s tasks are unfinished, counted up to ``up_to``."""

    def unfinished_task_ids(self) -> Iterator[str]:
        """The id of every unfinished task, of every owner (the sweeper's view)."""

    def page(
        self,
        owner: str,
        *,
        limit: int,
        cursor: str | None = None,
        status: TaskStatus | None = None,
        image_id: str | None = None,
    ) -> TaskPage:
        """``owner``'s tasks newest first, from a cursor of a previous page; filtered by status and/or image."""


class ImageStore(Protocol):
    """Image objects: uploads and results."""

    def presign_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: int, metadata: dict[str, str] | None = None
    ) -> PresignedUpload:
        """A POST form for ``key`` limited to this type, 1..max_bytes bytes and this metadata."""

    def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> str:
        """A GET URL for ``key``."""

    def head(self, key: str, version_id: str | None = None) -> StoredImage | None:
        """What is stored at ``key`` (of one version, if given), or None."""

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFound if it is gone."""

    def fetch(self, key: str, max_bytes: int | None = None) -> FetchedImage | None:
        """The object's bytes, type and ETag in one read, or None; ImageTooLarge over ``max_bytes``."""

    def download(self, key: str, path: Path) -> None:
        """Write the object to ``path``; NotFound if it is gone."""

    def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str] | None = None) -> None:
        """Store the file at ``path`` at ``key`` (overwriting)."""

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        """Store ``data`` at ``key`` (overwriting)."""

    def owner_tag(self, key: str) -> str | None:
        """The owner the object is tagged with, or None."""

    def tag_owner(self, key: str, owner: str) -> None:
        """Tag the object with its owner."""

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is not there."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix``; how many there were."""


class TaskQueue(Protocol):
    """The processor's queue of task ids, and the visibility of the ones received."""

    def send(self, task_id: str) -> None:
        """Queue ``task_id`` for processing."""

    def visibility_timeout(self) -> int:
        """The queue's own visibility timeout: how long a failed delivery waits before its retry."""

    def set_visibility(self, receipt_handles: Sequence[str], seconds: int) -> None:
        """Hide the received messages of ``receipt_handles`` for ``seconds`` from now (0: visible at once)."""


class DeadLetterQueue(Protocol):
    """The task queue's dead letters, read without being removed."""

    def browse(self, *, hide_seconds: int = 120, max_batches: int = 100) -> Iterator[DeadLetter]:
        """Each message now in the queue once, none deleted."""


class SigningKeys(Protocol):
    """The keys that sign image URLs."""

    def keys(self) -> tuple[bytes, ...]:
        """Every key a signature may be made with; the first is the one to sign with."""


@dataclass(frozen=True)
class Stores:
    """Everything the logic reads and writes: tasks, images, the task queue and its dead letters,
    and the keys that sign image URLs."""

    tasks: TaskStore
    images: ImageStore
    queue: TaskQueue
    dead_letters: DeadLetterQueue
    signing_keys: SigningKeys
