"""The task lifecycle as clients see it: create, read, list, cancel and delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pixelmill.catalog import Limits, registry
from pixelmill.errors import InvalidRequest, NotFound, QueueUnavailable, QuotaExceeded
from pixelmill.models.ids import (
    INCOMING_PREFIX,
    UPLOADS_PREFIX,
    image_key,
    is_incoming,
    new_task_id,
    render_cache_prefix,
    result_image_id,
)
from pixelmill.models.task import (
    TASK_LIFETIME,
    UNFINISHED_STATUSES,
    Task,
    TaskCreate,
    TaskError,
    TaskPublic,
    TaskStatus,
)
from pixelmill.observability import MetricUnit, bind_task, count_task, logger, task_metrics
from pixelmill.settings import Settings
from pixelmill.stores import StoredImage, Stores

UPLOAD_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class TaskList:
    """A page of tasks, newest first, and the cursor of the next page."""

    tasks: list[TaskPublic]
    cursor: str | None


def create_task(
    request: TaskCreate, owner: str, stores: Stores, settings: Settings, *, task_id: str | None = None
) -> TaskPublic:
    """Validate, store and queue a task of ``owner``'s; it comes back ``queued``.

    Unknown functions, bad arguments and images that do not exist or are
    another owner's are refused (InvalidRequest) before anything is written, as
    is a task over the owner's quota of unfinished tasks (QuotaExceeded). If the
    queue refuses the message the record is removed again, so no task waits
    forever as ``new``. ``task_id`` is given when the id is derived from where
    the request came from (an upload): TaskExists if that task was already created.
    """
    function = registry.parse(request.function_type, request.function_args, Limits.from_settings(settings))
    stored = owned_image(request.image_id, owner, stores)
    if stored is None:
        raise InvalidRequest.for_field("image_id", "no image with this id (upload it first: POST /api/images/)")
    check_outlives_a_task(stored, settings)
    check_quota(owner, stores, settings)

    task = Task(
        task_id=task_id or new_task_id(),
        owner=owner,
        image_id=request.image_id,
        function_type=request.function_type,
        # As validated ("800" is stored as 800), with only what the client set.
        function_args=function.model_dump(mode="json", exclude_unset=True),
    )
    bind_task(task)
    stores.tasks.create(task)
    queued = queue_task(task, stores, settings)
    logger.info("task created", extra={"status": queued.status.value})
    count_task("TaskCreated", task.function_type)
    return queued


def check_outlives_a_task(stored: StoredImage, settings: Settings, now: datetime | None = None) -> None:
    """InvalidRequest on ``image_id`` unless the upload outlives any task created on it now.

    Uploads (uploads/, incoming/) expire by a lifecycle rule ``upload_retention_days`` after
    they were written, whatever uses them; S3 never expires one earlier. So "still in use" is
    honoured up front: a task is only created on an upload that S3 keeps longer than a task
    can stay unfinished (TASK_LIFETIME), so no upload expires under a task.
    """
    if not stored.key.startswith((UPLOADS_PREFIX, INCOMING_PREFIX)):
        return
    expires = stored.last_modified + timedelta(days=settings.upload_retention_days)
    if expires - (now or datetime.now(UTC)) < TASK_LIFETIME + UPLOAD_MARGIN:
        raise InvalidRequest.for_field(
            "image_id",
            f"this upload expires on {expires:%Y-%m-%d} (uploads are kept {settings.upload_retention_days} days): "
            "too soon for a new task, upload it again",
        )


def owned_image(image_id: str, owner: str, stores: Stores) -> StoredImage | None:
    """``owner``'s image ``image_id`` as stored, or None: another owner's answers as one that does not exist."""
    key = image_key(image_id, owner)
    if is_incoming(image_id) and stores.images.owner_tag(key) != owner:
        return None  # the key is the uploader's choice; its owner is on its tag
    return stores.images.head(key)


def check_quota(owner: str, stores: Stores, settings: Settings) -> None:
    """QuotaExceeded when ``owner`` already has as many unfinished tasks as allowed.

    A check before the write, not a lock: callers racing at the cap may pass it by a few.
    """
    cap = settings.max_unfinished_tasks
    if stores.tasks.count_unfinished(owner, up_to=cap) >= cap:
        raise QuotaExceeded(
            f"you have {cap} unfinished tasks, the most allowed; wait for some to finish (or cancel them) and retry"
        )


def queue_task(task: Task, stores: Stores, settings: Settings) -> TaskPublic:
    """Send a stored ``new`` task to the processor and mark it ``queued``.

    If the queue refuses the message the record is removed again
    (QueueUnavailable), so no task waits forever as ``new``.
    """
    try:
        stores.queue.send(task.task_id)
    except Exception as error:
        logger.exception("could not queue task")
        stores.tasks.delete(task.task_id)
        raise QueueUnavailable("the task could not be queued; nothing was created, try again") from error

    # The worker may already have picked it up: then its record is newer than ours.
    queued = stores.tasks.transition(task.task_id, TaskStatus.QUEUED, [TaskStatus.NEW])
    current = queued or stores.tasks.get(task.task_id) or task
    return to_public(current, stores, settings)


def create_failed_task(
    task_id: str,
    owner: str,
    image_id: str,
    function_type: str,
    function_args: dict[str, Any],
    error: TaskError,
    stores: Stores,
    settings: Settings,
) -> TaskPublic:
    """Store a task that failed before it could start, with the reason, so that it is
    listed like any other (an upload that asked for something invalid is not dropped
    silently). TaskExists if ``task_id`` is taken."""
    task = Task(
        task_id=task_id,
        owner=owner,
        image_id=image_id,
        function_type=function_type,
        function_args=function_args,
        status=TaskStatus.FAILED,
        error=error,
    )
    bind_task(task)
    stores.tasks.create(task)
    logger.warning(
        "task failed",
        extra={"code": error.code, "reason": error.message, "will_retry": False, "stage": "creation"},
    )
    # A dimension per name the catalog knows; any other name (an upload's metadata may say
    # anything) is "unknown", so that nobody can mint custom metrics at will.
    with task_metrics(function_type if function_type in registry else "unknown") as metric:
        metric.add_metric(name="TaskCreated", unit=MetricUnit.Count, value=1)
        metric.add_metric(name="TaskFailed", unit=MetricUnit.Count, value=1)
    return to_public(task, stores, settings)


def _owned_task(task_id: str, owner: str, stores: Stores) -> Task:
    """``owner``'s task ``task_id``; NotFound if there is none, or it is another owner's (alike)."""
    task = stores.tasks.get(task_id)
    if task is None or task.owner != owner:
        raise NotFound(f"no task {task_id}")
    bind_task(task)
    return task


def get_task(task_id: str, owner: str, stores: Stores, settings: Settings) -> TaskPublic:
    """One of ``owner``'s tasks; NotFound if there is none."""
    return to_public(_owned_task(task_id, owner, stores), stores, settings)


def list_tasks(
    owner: str,
    stores: Stores,
    settings: Settings,
    *,
    limit: int,
    cursor: str | None = None,
    status: TaskStatus | None = None,
    image_id: str | None = None,
) -> TaskList:
    """``owner``'s tasks newest first, a page at a time, optionally of one status and/or image."""
    page = stores.tasks.page(owner, limit=limit, cursor=cursor, status=status, image_id=image_id)
    return TaskList(tasks=[to_public(task, stores, settings) for task in page.tasks], cursor=page.cursor)


def delete_task(task_id: str, owner: str, stores: Stores) -> None:
    """Cancel ``owner``'s task if it has not finished, then delete it, its result and the
    result's renders cached for image URLs.

    A worker still busy with it finds it cancelled (or gone) when it tries to
    finish, and removes the result it wrote. The record goes last: if a deletion
    fails, the client's retry finds the task and deletes what is left.
    """
    task = _owned_task(task_id, owner, stores)
    if task.status in UNFINISHED_STATUSES and stores.tasks.transition(
        task_id, TaskStatus.CANCELLED, UNFINISHED_STATUSES
    ):
        logger.info("task cancelled", extra={"status_before": task.status.value})
        count_task("TaskCancelled", task.function_type)
    # The result key is derived from the task: delete it even if no record names it yet.
    result = result_image_id(task_id)
    stores.images.delete(image_key(result, owner))
    # After the result, which no render can read from then on. (A render that read it just
    # before may still cache what it made: the cache's lifecycle rule removes that; copies
    # already at CloudFront's edges stay until their max-age.)
    renders = stores.images.delete_prefix(render_cache_prefix(result, owner))
    stores.tasks.delete(task_id)
    logger.info("task deleted", extra={"status": task.status.value, "cached_renders_deleted": renders})


def to_public(task: Task, stores: Stores, settings: Settings) -> TaskPublic:
    """The API's view of a task, with a fresh download URL once it is done."""
    result_url = None
    if task.status is TaskStatus.DONE and task.new_image_id:
        filename = f"{task.new_image_id}.{task.result_extension}" if task.result_extension else None
        result_url = stores.images.presign_download(
            image_key(task.new_image_id, task.owner), settings.download_url_expires_seconds, filename
        )
    return TaskPublic(
        task_id=task.task_id,
        image_id=task.image_id,
        function_type=task.function_type,
        function_args=task.function_args,
        status=task.status,
        progress=task.progress,
        created_at=task.created_at,
        updated_at=task.updated_at,
        duration=task.duration,
        new_image_id=task.new_image_id,
        result_url=result_url,
        error=task.error,
        result=task.result if task.status is TaskStatus.DONE else None,
    )
