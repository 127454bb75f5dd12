"""Upload triggers: a file dropped into ``incoming/`` becomes a task, once per stored object.

S3 delivers its notifications at least once (and moto, like some S3 paths,
sends more than one for a multipart upload), so an upload's task id is derived
from the object as stored (key, version, ETag, Last-Modified, metadata): every
delivery about the same object computes the same id, and the conditional write
that creates the task lets exactly one of them through.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from pixelmill.dal import StoredImage, Stores
from pixelmill.errors import InvalidRequest, TaskExists
from pixelmill.logic import tasks
from pixelmill.models.ids import incoming_image_id, new_task_id
from pixelmill.models.ingest import (
    FUNCTION_ARGS_METADATA,
    FUNCTION_TYPE_METADATA,
    UploadedObject,
    UploadMetadata,
    matching_rule,
)
from pixelmill.models.task import Task, TaskCreate, TaskError, TaskPublic, TaskStatus
from pixelmill.observability import bind_task, current_task_keys, logger
from pixelmill.settings import Settings
from pixelmill.transforms.registry import field_errors

Outcome = Literal["queued", "failed", "duplicate", "ignored"]


@dataclass(frozen=True)
class IngestResult:
    """What one notification led to: a new task (queued or failed), a task seen before, or nothing."""

    outcome: Outcome
    reason: str
    task: TaskPublic | None = None


@dataclass(frozen=True)
class _Order:
    """What an upload asks for and who asked (its metadata or a rule); ``error`` when it cannot be read."""

    function_type: str
    function_args: dict[str, Any]
    source: str
    error: TaskError | None = None


def ingest_upload(upload: UploadedObject, stores: Stores, settings: Settings) -> IngestResult:
    """Create the task an uploaded file asks for (its metadata, else the rule for its prefix).

    A request that cannot be honoured (unreadable metadata, an unknown function,
    bad arguments) gives a ``failed`` task that says why. Files that neither
    metadata nor a rule asks anything for, folder markers, and objects already
    gone are ignored (and logged). A delivery about an object that already has its task changes
    nothing. Transient AWS errors are raised: the notification is delivered again.
    """
    context = {"bucket": upload.bucket, "key": upload.key, "event_name": upload.event_name}
    if upload.bucket != settings.images_bucket:
        return _ignored(f"not the images bucket {settings.images_bucket}", context)
    if upload.key.endswith("/"):
        return _ignored("a folder marker, not a file", context)
    try:
        image_id = incoming_image_id(upload.key)
    except ValueError as error:
        return _ignored(str(error), context)
    stored = stores.images.head(upload.key, upload.version_id)
    if stored is None:
        return _ignored("the object no longer exists", context)

    order = _order_of(upload.key, stored.metadata, settings)
    if order is None:
        return _ignored(
            f"no {FUNCTION_TYPE_METADATA} metadata and no rule in PIXELMILL_INGEST_RULES for this key", context
        )
    task_id = upload_task_id(stored)
    bind_task(task_id=task_id, image_id=image_id, function_type=order.function_type or None)
    context |= {"source": order.source}

    existing = stores.tasks.get(task_id)
    if existing is not None:
        return _duplicate(existing, stores, settings, context, resume=True)
    try:
        task = _create(task_id, image_id, order, stores, settings)
    except TaskExists:  # a concurrent delivery about the same object is creating it (and queues it)
        return _duplicate(stores.tasks.get(task_id), stores, settings, context, resume=False)
    logger.info("upload ingested", extra={**context, "status": task.status.value})
    return IngestResult("failed" if task.status is TaskStatus.FAILED else "queued", order.source, task)


def upload_task_id(stored: StoredImage) -> str:
    """The task id of an uploaded object: a ULID of its Last-Modified time whose
    random part is a digest of what identifies the stored object, so that every
    notification about it (duplicates, multipart extras) names the same task."""
    identity = json.dumps(
        [
            stored.key,
            stored.version_id or "",
            stored.etag,
            stored.last_modified.isoformat(),
            sorted(stored.metadata.items()),
        ]
    )
    digest = hashlib.sha256(identity.encode()).digest()
    return new_task_id(now_ms=int(stored.last_modified.timestamp() * 1000), entropy=digest[:10])


def _order_of(key: str, metadata: dict[str, str], settings: Settings) -> _Order | None:
    """The upload's own request (metadata) if it makes one, else its rule's, else None."""
    if FUNCTION_TYPE_METADATA in metadata or FUNCTION_ARGS_METADATA in metadata:
        source = "the upload's metadata"
        try:
            request = UploadMetadata.model_validate(metadata)
        except ValidationError as error:
            problems = "; ".join(f"{e.field}: {e.message}" for e in field_errors(error, ""))
            return _Order(
                function_type=metadata.get(FUNCTION_TYPE_METADATA, "")[:64],
                function_args={},
                source=source,
                error=TaskError(code="invalid_metadata", message=f"{source} is not a valid request: {problems}"),
            )
        return _Order(request.function_type, request.function_args, source)
    rule = matching_rule(key, settings.ingest_rules)
    if rule is None:
        return None
    return _Order(rule.function_type, dict(rule.function_args), f"the rule for {rule.prefix}")


def _create(task_id: str, image_id: str, order: _Order, stores: Stores, settings: Settings) -> TaskPublic:
    """The task through the API's own path (same validation), or a failed one saying why not."""
    error = order.error
    if error is None:
        request = TaskCreate(image_id=image_id, function_type=order.function_type, function_args=order.function_args)
        try:
            return tasks.create_task(request, stores, settings, task_id=task_id)
        except InvalidRequest as refused:
            fields = {problem.field.split(".", 1)[0] for problem in refused.errors}
            code = "image_not_found" if fields == {"image_id"} else "invalid_function"
            error = TaskError(code=code, message=f"{order.source} asks for something invalid: {refused.message}")
    return tasks.create_failed_task(
        task_id, image_id, order.function_type, order.function_args, error, stores, settings
    )


def _duplicate(
    existing: Task | None, stores: Stores, settings: Settings, context: dict[str, Any], *, resume: bool
) -> IngestResult:
    """A notification about an object that already has its task: nothing new, unless
    (``resume``) an earlier delivery stored the task and stopped before queueing it: then
    it is queued now (should that delivery still be at it, the processor gets the id
    twice, which it is built for)."""
    task = None
    if existing is not None:
        bind_task(existing)
        if resume and existing.status is TaskStatus.NEW:
            task = tasks.queue_task(existing, stores, settings)
        else:
            task = tasks.to_public(existing, stores, settings)
    logger.info(
        "duplicate notification: the upload has its task",
        extra={**context, "status": existing.status.value if existing else None},
    )
    return IngestResult("duplicate", f"task {current_task_keys().get('task_id')} exists", task)


def _ignored(reason: str, context: dict[str, Any]) -> IngestResult:
    logger.info(f"upload ignored: {reason}", extra=context)
    return IngestResult("ignored", reason)
