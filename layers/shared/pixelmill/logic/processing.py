"""The worker's side of the lifecycle: one task from queued to done or failed.

Permanent problems (bad input, limits) end the task ``failed`` at once.
Anything else is raised so that SQS delivers the message again; on the last
allowed delivery the task is marked ``failed`` before the message goes to the
dead-letter queue, so no task is left ``processing``.
"""

from __future__ import annotations

import json
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from pixelmill.catalog import registry
from pixelmill.errors import (
    ImageTooLarge,
    InvalidRequest,
    NotFound,
    ProcessingError,
    StoreUnavailable,
    TaskTimeout,
    readable,
)
from pixelmill.logic.isolation import TaskCancelled, run_isolated
from pixelmill.models.ids import image_key, result_image_id
from pixelmill.models.task import UNFINISHED_STATUSES, Task, TaskError, TaskStatus
from pixelmill.observability import (
    EphemeralMetrics,
    MetricUnit,
    bind_task,
    logger,
    task_metrics,
    traced,
)
from pixelmill.settings import MIB, Settings
from pixelmill.stores import Stores
from pixelmill.transforms import Limits, Rendered, RenderedFile

# Share of the progress bar each stage ends at; the transform reports in between.
PROGRESS_STARTED = 5
PROGRESS_DOWNLOADED = 20
PROGRESS_TRANSFORMED = 90

MAX_TASK_RESULT_BYTES = 64 * 1024
"""Largest JSON result kept on the task record itself (DynamoDB items hold 400 KB); larger
ones are only at the result's URL."""


class TaskDeferred(Exception):
    """Too little time is left in this invocation to give the task its full
    timeout: the message goes back to the queue untouched, to be run fresh."""


def process_task(
    task_id: str,
    *,
    attempt: int,
    stores: Stores,
    settings: Settings,
    timeout: float,
    queue_wait: float | None = None,
) -> Task | None:
    """Process one delivery of ``task_id`` (``attempt`` is SQS's receive count)
    within ``timeout`` seconds; ``queue_wait`` is how long its message waited (seconds).

    Returns the task as it ended, or None when there was nothing to do (gone,
    already finished, or cancelled meanwhile). Raises for transient failures.
    Logs one line when the task starts and one for its outcome (``task done``,
    ``task failed``), and publishes the task's metrics.
    """
    if timeout < settings.task_timeout_seconds and attempt < settings.max_receive_count:
        raise TaskDeferred(f"only {timeout:.1f} s left of this invocation")
    task = stores.tasks.get(task_id)
    if task is None or task.status.is_terminal:
        logger.info("nothing to do", extra={"status": task.status.value if task else None})
        return None
    bind_task(task)
    started = stores.tasks.transition(task_id, TaskStatus.PROCESSING, UNFINISHED_STATUSES, progress=PROGRESS_STARTED)
    if started is None:
        return None
    logger.info(
        "task started",
        extra={"attempt": attempt, "queue_wait_seconds": None if queue_wait is None else round(queue_wait, 3)},
    )
    with task_metrics(started.function_type) as metric:
        if queue_wait is not None:
            metric.add_metric(name="QueueWait", unit=MetricUnit.Seconds, value=round(queue_wait, 3))
        return _process(started, attempt, stores, settings, timeout, metric)


def _process(
    started: Task, attempt: int, stores: Stores, settings: Settings, timeout: float, metric: EphemeralMetrics
) -> Task | None:
    task_id = started.task_id
    clock = time.monotonic()
    key = image_key(result_image_id(task_id), started.owner)
    try:
        # Source, scratch files and result live in ephemeral storage for this task only (Lambda
        # keeps /tmp between invocations), removed once the deadline is lifted: never half-way.
        with tempfile.TemporaryDirectory(prefix="pixelmill-task-") as scratch, deadline(timeout):
            rendered, bytes_in = _render(started, stores, settings, Path(scratch))
            bytes_out = _store(rendered, key, task_id, stores)
    except ProcessingError as error:
        return _fail(task_id, error.code, error.message, stores, time.monotonic() - clock, metric, attempt)
    except TaskCancelled:  # the transform was stopped; nothing was stored
        logger.info("task cancelled during processing: its transform was stopped")
        return None
    except Exception as error:
        if attempt >= settings.max_receive_count:
            message = f"gave up after {attempt} attempts; last error: {_describe(error)}"
            _fail(task_id, "retries_exhausted", message, stores, time.monotonic() - clock, metric, attempt)
        else:
            # The message goes back to the queue: SQS delivers it again after the visibility timeout.
            logger.warning(
                "task failed",
                extra={"code": "transient_error", "reason": _describe(error), "will_retry": True, "attempt": attempt},
            )
            metric.add_metric(name="TaskRetried", unit=MetricUnit.Count, value=1)
        raise

    # The record goes when its result does (S3 expires results/ after the retention).
    keep_days = min(settings.task_ttl_days, settings.result_retention_days)
    duration = round(time.monotonic() - clock, 3)
    done = stores.tasks.transition(
        task_id,
        TaskStatus.DONE,
        [TaskStatus.PROCESSING],
        progress=100,
        duration=duration,
        new_image_id=result_image_id(task_id),
        result_extension=rendered.extension,
        result=_task_result(rendered),
        expires_at=int(time.time()) + keep_days * 86400,
    )
    if done is None:
        current = stores.tasks.get(task_id)
        if current is None or current.status is TaskStatus.CANCELLED:
            # Cancelled or deleted while we worked (the API logged and counted that): leave nothing behind.
            stores.images.delete(key)
            logger.info("result removed: the task was cancelled while it was processed")
        # Otherwise a duplicate delivery finished first: its result is this same key.
        return done
    logger.info("task done", extra={"duration_seconds": duration, "bytes_in": bytes_in, "bytes_out": bytes_out})
    metric.add_metric(name="TaskDone", unit=MetricUnit.Count, value=1)
    metric.add_metric(name="ProcessingDuration", unit=MetricUnit.Seconds, value=duration)
    metric.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=bytes_in)
    metric.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=bytes_out)
    return done


def _store(rendered: Rendered | RenderedFile, key: str, task_id: str, stores: Stores) -> int:
    """Upload the result: from memory, or streamed from its file. Returns its size in bytes."""
    metadata = {"task-id": task_id}
    with traced("upload"):
        if isinstance(rendered, RenderedFile):
            stores.images.put_file(key, rendered.path, rendered.content_type, metadata)
            return rendered.path.stat().st_size
        stores.images.put(key, rendered.data, rendered.content_type, metadata)
        return len(rendered.data)


def _task_result(rendered: Rendered | RenderedFile) -> dict[str, Any] | None:
    """The JSON result to keep on the task record, if there is one and it is small enough."""
    if not isinstance(rendered, Rendered) or rendered.document is None:
        return None
    if len(json.dumps(rendered.document)) > MAX_TASK_RESULT_BYTES or not _storable(rendered.document):
        logger.info("JSON result not kept on the task record; it is only at result_url")
        return None
    return rendered.document


def _storable(value: Any) -> bool:
    """Whether DynamoDB can hold every number in ``value`` (magnitudes 1e-130 to 1e126)."""
    if isinstance(value, dict):
        return all(_storable(item) for item in value.values())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, float):
        return value == 0 or 1e-130 <= abs(value) < 1e126
    return True


def _render(task: Task, stores: Stores, settings: Settings, scratch: Path) -> tuple[Rendered | RenderedFile, int]:
    """Download the source into ``scratch`` and run the task's function on it; the result
    and the source's size in bytes."""
    try:
        function = registry.load(task.function_type, task.function_args)
    except InvalidRequest as error:
        if task.function_type in registry:  # the API checks a CRS's form; PROJ is asked here
            raise ProcessingError(error.message, "invalid_arguments") from None
        raise ProcessingError(f"the task's function is no longer valid: {error}", "invalid_function") from None
    except Exception as error:  # validated at POST; only a changed catalog gets here
        raise ProcessingError(f"the task's function is no longer valid: {error}", "invalid_function") from None
    key = image_key(task.image_id, task.owner)
    try:
        with traced("download"):
            stored = stores.images.head(key)
            if stored is None:
                raise NotFound(key)
            # Presigned POST limits are enforced by S3, not by every emulator: check again.
            if stored.size > settings.max_upload_bytes:
                raise ImageTooLarge(f"source is {stored.size} bytes; the limit is {settings.max_upload_bytes}")
            source = scratch / "source"
            stores.images.download(key, source)
            bytes_in = source.stat().st_size
    except NotFound:  # gone between the POST and now (or between HEAD and GET)
        raise ProcessingError(f"image {task.image_id} no longer exists", "image_not_found") from None
    stores.tasks.set_progress(task.task_id, PROGRESS_DOWNLOADED)

    reported = PROGRESS_DOWNLOADED

    def progress(percent: int) -> None:
        nonlocal reported
        overall = PROGRESS_DOWNLOADED + (PROGRESS_TRANSFORMED - PROGRESS_DOWNLOADED) * max(0, min(percent, 100)) // 100
        if overall - reported >= 10:  # a write per 10 points is plenty for a poller
            stores.tasks.set_progress(task.task_id, overall)
            reported = overall

    workdir = scratch / "work"
    workdir.mkdir()

    def cancelled() -> bool:
        current = stores.tasks.get(task.task_id)
        return current is None or current.status is TaskStatus.CANCELLED

    try:
        with traced("transform"):
            rendered = run_isolated(
                function,
                source,
                workdir,
                Limits.from_settings(settings),
                progress,
                memory_bytes=settings.task_memory_mib * MIB,
                cancelled=cancelled,
            )
        return rendered, bytes_in
    except (ProcessingError, TaskCancelled):
        raise
    except MemoryError:
        raise ImageTooLarge("the image needs more memory than this worker has") from None
    except Exception as error:
        # A transform is a pure function of the bytes: what fails once fails every time.
        if _is_io_error(error):
            raise
        logger.exception("transform failed")
        raise ProcessingError(
            f"the {task.function_type} transform failed: {_describe(error)}", "transform_failed"
        ) from None


def _is_io_error(error: Exception) -> bool:
    """True for errors of store calls made while transforming (progress writes): worth a retry."""
    return isinstance(error, StoreUnavailable)


def _describe(error: Exception) -> str:
    """A short, readable description of an unexpected error for the task's reason: AWS's
    own text for AWS errors, never a Python repr (the traceback is in the logs)."""
    return readable(error, "an internal error (logged with the task id)", sentence=_is_io_error(error))


def _fail(
    task_id: str, code: str, message: str, stores: Stores, duration: float, metric: EphemeralMetrics, attempt: int
) -> Task | None:
    logger.warning(
        "task failed",
        extra={
            "code": code,
            "reason": message,
            "will_retry": False,
            "attempt": attempt,
            "duration_seconds": round(duration, 3),
        },
    )
    metric.add_metric(name="TaskFailed", unit=MetricUnit.Count, value=1)
    return stores.tasks.transition(
        task_id,
        TaskStatus.FAILED,
        [TaskStatus.PROCESSING],
        error=TaskError(code=code, message=message),
        duration=round(duration, 3),
    )


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TaskTimeout in this block after ``seconds``.

    Uses SIGALRM, so it works only on the main thread (as in Lambda); elsewhere
    the Lambda timeout and the visibility timeout remain the backstop.
    """
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TaskTimeout(f"processing took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
