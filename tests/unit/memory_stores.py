"""The store interfaces of ``pixelmill.stores`` in memory: logic runs on them without AWS.

They keep the semantics logic relies on: a transition happens only from the
allowed statuses (as DynamoDB's conditional write), a missing object is
NotFound or None, a task id is created once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pixelmill.errors import ImageTooLarge, NotFound, TaskExists
from pixelmill.models.task import UNFINISHED_STATUSES, Task, TaskStatus, utcnow
from pixelmill.stores import DeadLetter, FetchedImage, PresignedUpload, StoredImage, Stores, TaskPage


@dataclass
class MemoryTaskStore:
    """Task records in a dict; ``on_progress`` runs after each progress write (a test's hook)."""

    tasks: dict[str, Task] = field(default_factory=dict)
    on_progress: Callable[[str, int], None] | None = None

    def create(self, task: Task) -> None:
        if task.task_id in self.tasks:
            raise TaskExists(f"task {task.task_id} exists")
        self.tasks[task.task_id] = task

    def get(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    def transition(
        self, task_id: str, to: TaskStatus, allowed_from: Collection[TaskStatus], **changes: Any
    ) -> Task | None:
        return self._update(task_id, {"status": to, **changes}, allowed_from)

    def set_progress(self, task_id: str, progress: int) -> None:
        self._update(task_id, {"progress": progress}, [TaskStatus.PROCESSING])
        if self.on_progress is not None:
            self.on_progress(task_id, progress)

    def _update(self, task_id: str, changes: dict[str, Any], allowed_from: Collection[TaskStatus]) -> Task | None:
        task = self.tasks.get(task_id)
        if task is None or task.status not in allowed_from:
            return None
        known = {name: value for name, value in changes.items() if name in Task.model_fields}
        updated = Task.model_validate({**task.model_dump(), **known, "updated_at": utcnow()})
        self.tasks[task_id] = updated
        return updated

    def delete(self, task_id: str) -> None:
        self.tasks.pop(task_id, None)

    def count_unfinished(self, owner: str, *, up_to: int) -> int:
        return min(up_to, sum(t.owner == owner and t.status in UNFINISHED_STATUSES for t in self.tasks.values()))

    def unfinished_task_ids(self) -> Iterator[str]:
        yield from [t.task_id for t in self.tasks.values() if t.status in UNFINISHED_STATUSES]

    def page(
        self,
        owner: str,
        *,
        limit: int,
        cursor: str | None = None,
        status: TaskStatus | None = None,
        image_id: str | None = None,
    ) -> TaskPage:
        tasks = sorted(
            (
                t
                for t in self.tasks.values()
                if t.owner == owner
                and (status is None or t.status is status)
                and (image_id is None or t.image_id == image_id)
                and (cursor is None or t.task_id < cursor)
            ),
            key=lambda t: t.task_id,
            reverse=True,
        )
        page = tasks[:limit]
        return TaskPage(tasks=page, cursor=page[-1].task_id if len(tasks) > limit else None)


@dataclass
class MemoryImageStore:
    """Objects in a dict: bytes, content type and metadata."""

    objects: dict[str, tuple[bytes, str, dict[str, str]]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    written: dict[str, datetime] = field(default_factory=dict)
    """When each object was last written (S3's LastModified)."""

    def presign_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: int, metadata: dict[str, str] | None = None
    ) -> PresignedUpload:
        return PresignedUpload(url=f"memory://{key}", fields={"key": key, "Content-Type": content_type})

    def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> str:
        return f"memory://{key}"

    def head(self, key: str, version_id: str | None = None) -> StoredImage | None:
        if key not in self.objects:
            return None
        data, content_type, metadata = self.objects[key]
        return StoredImage(
            key=key,
            size=len(data),
            content_type=content_type,
            last_modified=self.written.get(key, utcnow()),
            metadata=metadata,
        )

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise NotFound(f"no object {key}")
        return self.objects[key][0]

    def fetch(self, key: str, max_bytes: int | None = None) -> FetchedImage | None:
        if key not in self.objects:
            return None
        data, content_type, _metadata = self.objects[key]
        if max_bytes is not None and len(data) > max_bytes:
            raise ImageTooLarge(f"the image has {len(data)} bytes, over the limit of {max_bytes}")
        return FetchedImage(
            data=data,
            content_type=content_type,
            etag=str(hash(data)),
            last_modified=self.written.get(key, utcnow()),
            metadata=dict(_metadata),
        )

    def download(self, key: str, path: Path) -> None:
        path.write_bytes(self.get(key))

    def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str] | None = None) -> None:
        self.put(key, path.read_bytes(), content_type, metadata)

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        self.objects[key] = (data, content_type, dict(metadata or {}))
        self.written[key] = utcnow()

    def owner_tag(self, key: str) -> str | None:
        return self.tags.get(key)

    def tag_owner(self, key: str, owner: str) -> None:
        self.tags[key] = owner

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        keys = [key for key in self.objects if key.startswith(prefix)]
        for key in keys:
            del self.objects[key]
        return len(keys)


@dataclass
class MemoryTaskQueue:
    """Task ids as sent, in order, and the visibility last set per receipt handle."""

    sent: list[str] = field(default_factory=list)
    visibility: dict[str, int] = field(default_factory=dict)
    timeout: int = 300

    def send(self, task_id: str) -> None:
        self.sent.append(task_id)

    def visibility_timeout(self) -> int:
        return self.timeout

    def set_visibility(self, receipt_handles: Sequence[str], seconds: int) -> None:
        self.visibility.update(dict.fromkeys(receipt_handles, seconds))


@dataclass
class MemoryDeadLetterQueue:
    """Dead letters that stay put when browsed."""

    letters: list[DeadLetter] = field(default_factory=list)

    def browse(self, *, hide_seconds: int = 120, max_batches: int = 100) -> Iterator[DeadLetter]:
        yield from list(self.letters)


@dataclass
class MemorySigningKeys:
    """Fixed signing keys, the current one first."""

    current: tuple[bytes, ...] = (b"memory-signing-key",)

    def keys(self) -> tuple[bytes, ...]:
        return self.current


def memory_stores() -> Stores:
    """Fresh, empty in-memory stores."""
    return Stores(
        tasks=MemoryTaskStore(),
        images=MemoryImageStore(),
        queue=MemoryTaskQueue(),
        dead_letters=MemoryDeadLetterQueue(),
        signing_keys=MemorySigningKeys(),
    )
