"""The task: what a client asked for and where its processing stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pixelmill.models.ids import ImageId, TaskId
from pixelmill.models.tenant import Tenant


class TaskStatus(StrEnum):
    """Where a task is in its life: new → queued → processing → done | failed | cancelled."""

    NEW = "new"
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the task can change no more."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED})
UNFINISHED_STATUSES = frozenset({TaskStatus.NEW, TaskStatus.QUEUED, TaskStatus.PROCESSING})

# The longest a task stays unfinished: TaskQueue keeps its message 4 days (MessageRetentionPeriod
# in template.yaml; a test keeps them in step), then minutes of processing; plus a day of margin.
TASK_LIFETIME = timedelta(days=4)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class TaskError(BaseModel):
    """Why a task failed: a machine-readable code and a sentence for a person."""

    code: str = Field(examples=["image_too_large"])
    message: str = Field(examples=["source is 20000×20000 pixels; the limit is 100000000"])


class TaskCreate(BaseModel):
    """The body of POST /api/tasks/ (the seed's CreationModel)."""

    model_config = ConfigDict(extra="forbid")

    image_id: ImageId
    function_type: str = Field(min_length=1, max_length=64, examples=["resize"])
    function_args: dict[str, Any] = Field(default_factory=dict, examples=[{"width": 800}])


class Task(BaseModel):
    """The task record as stored; ``owner`` and ``result_extension`` never leave the service.

    The result's key is derived from ``new_image_id`` and ``owner`` (``image_key``), never stored."""

    task_id: TaskId
    owner: Tenant
    image_id: str
    function_type: str
    function_args: dict[str, Any]
    status: TaskStatus = TaskStatus.NEW
    progress: int = Field(default=0, ge=0, le=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    duration: float | None = None
    new_image_id: str | None = None
    error: TaskError | None = None
    result_extension: str | None = None
    result: dict[str, Any] | None = None


class TaskPublic(BaseModel):
    """A task as the API returns it: the seed's fields plus progress, result_url, error and result."""

    task_id: str = Field(description="Time-sortable id (ULID).")
    image_id: str
    function_type: str
    function_args: dict[str, Any]
    status: TaskStatus
    progress: int = Field(ge=0, le=100, description="0..100")
    created_at: datetime
    updated_at: datetime
    duration: float | None = Field(description="Seconds of processing, once finished.")
    new_image_id: str | None = Field(description="Id of the result image, once done.")
    result_url: str | None = Field(description="Presigned download URL of the result, once done.")
    error: TaskError | None = Field(description="Why the task failed, once failed.")
    result: dict[str, Any] | None = Field(
        default=None,
        description=(
            "The JSON result of a function that describes its source rather than transforming it (raster_info), "
            "once done; the same JSON is at result_url. Left out (null) when larger than 64 KiB."
        ),
    )
