"""Upload triggers: an uploaded file becomes a task, once per stored object.

Two kinds of upload ask for a task. An upload the API presigned with a
``function_type`` lands in ``uploads/<owner>/`` with the request in its
metadata (both fixed by the POST policy): the owner is the one in its key. A
file an IAM principal writes straight into ``incoming/`` asks in its metadata or
through the rule for its prefix; its owner is the rule's fixed owner, if the
rule names one, else the uploader (the notification's principal), and the
object is tagged with it so that the owner can use it through the API.

S3 delivers its notifications at least once (and moto, like some S3 paths,
sends more than one for a multipart upload), so an upload's task id is derived
from the object as stored (key, version, ETag, Last-Modified, metadata): every
delivery about the same object computes the same id, and the conditional write
that creates the task lets exactly one of them through.

A file written again under the same name keeps its image id: the renders image
URLs cached of it before are deleted, so its URLs show the new file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from pixelmill.catalog import field_errors
from pixelmill.errors import InvalidRequest, QuotaExceeded, TaskExists
from pixelmill.logic import tasks
from pixelmill.models.ids import (
    INCOMING_PREFIX,
    incoming_image_id,
    new_task_id,
    owner_of_upload_key,
    render_cache_prefix,
)
from pixelmill.models.ingest import (
    FUNCTION_ARGS_METADATA,
    FUNCTION_TYPE_METADATA,
    IngestRule,
    UploadedObject,
    UploadMetadata,
    matching_rule,
)
from pixelmill.models.task import Task, TaskCreate, TaskError, TaskPublic, TaskStatus
from pixelmill.models.tenant import tenant_of_principal
from pixelmill.observability import bind_task, current_task_keys, logger
from pixelmill.settings import Settings
from pixelmill.stores import StoredImage, Stores

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
    """Create the task an uploaded file asks for (its metadata, else the rule for its prefix), its owner's.

    A request that cannot be honoured (unreadable metadata, an unknown function,
    bad arguments, the owner's quota) gives a ``failed`` task that says why.
    Files that neither metadata nor a rule asks anything for, files nobody can
    own, folder markers, and objects already gone are ignored (and logged). A
    delivery about an object that already has its task changes nothing.
    Transient AWS errors are raised: the notification is delivered again.
    """
    context = {"bucket": upload.bucket, "key": upload.key, "event_name": upload.event_name}
    if upload.bucket != settings.images_bucket:
        return _ignored(f"not the images bucket {settings.images_bucket}", context)
    if upload.key.endswith("/"):
        return _ignored("a folder marker, not a file", context)
    presigned = owner_of_upload_key(upload.key)
    if presigned is None and not upload.key.startswith(INCOMING_PREFIX):
        return _ignored(f"neither an upload of the API's nor a file under {INCOMING_PREFIX}", context)
    stored = stores.images.head(upload.key, upload.version_id)
    if stored is None:
        return _ignored("the object no longer exists", context)

    if presigned is not None:
        owner, image_id = presigned
        order = _order_of_metadata(stored.metadata)
    else:
        try:
            image_id = incoming_image_id(upload.key)
        except ValueError as error:
            return _ignored(str(error), context)
        rule = matching_rule(upload.key, settings.ingest_rules)
        found = rule.owner if rule is not None and rule.owner else tenant_of_principal(upload.principal_id)
        if found is None:
            return _ignored(
                f"nobody to own it: the uploader ({upload.principal_id}) is not an IAM user or role, "
                "and no rule names an owner",
                context,
            )
        owner = found
        stores.images.tag_owner(upload.key, owner)  # so that the owner can use the file through the API
        order = _order_of_metadata(stored.metadata) or _order_of_rule(rule)
    context |= {"owner": owner, "image_id": image_id}
    # A file written again under its name is the same image id with new pixels: what image URLs
    # rendered of the file before goes (a first write has nothing there).
    if stale := stores.images.delete_prefix(render_cache_prefix(image_id, owner)):
        logger.info("cached renders of the file before deleted", extra={**context, "renders": stale})
    if order is None:
        return _ignored(
            f"no {FUNCTION_TYPE_METADATA} metadata and no rule in PIXELMILL_INGEST_RULES for this key", context
        )
    task_id = upload_task_id(stored)
    bind_task(task_id=task_id, image_id=image_id, function_type=order.function_type or None, owner=owner)
    context |= {"source": order.source}

    existing = stores.tasks.get(task_id)
    if existing is not None:
        return _duplicate(existing, stores, settings, context, resume=True)
    try:
        task = _create(task_id, owner, image_id, order, stores, settings)
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


def _order_of_metadata(metadata: dict[str, str]) -> _Order | None:
    """The upload's own request (metadata) if it makes one, else None."""
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
    return None


def _order_of_rule(rule: IngestRule | None) -> _Order | None:
    """The request of the rule for an upload's prefix, if there is one."""
    if rule is None:
        return None
    return _Order(rule.function_type, dict(rule.function_args), f"the rule for {rule.prefix}")


def _create(task_id: str, owner: str, image_id: str, order: _Order, stores: Stores, settings: Settings) -> TaskPublic:
    """The task through the API's own path (same validation), or a failed one saying why not."""
    error = order.error
    if error is None:
        request = TaskCreate(image_id=image_id, function_type=order.function_type, function_args=order.function_args)
        try:
            return tasks.create_task(request, owner, stores, settings, task_id=task_id)
        except InvalidRequest as refused:
            fields = {problem.field.split(".", 1)[0] for problem in refused.errors}
            code = "image_not_found" if fields == {"image_id"} else "invalid_function"
            error = TaskError(code=code, message=f"{order.source} asks for something invalid: {refused.message}")
        except QuotaExceeded as refused:
            error = TaskError(code=refused.code, message=refused.message)
    return tasks.create_failed_task(
        task_id, owner, image_id, order.function_type, order.function_args, error, stores, settings
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
