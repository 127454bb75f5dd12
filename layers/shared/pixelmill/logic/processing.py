"""The worker's side of the lifecycle: one task from queued to done or failed.

Permanent problems (bad input, limits) end the task ``failed`` at once.
Anything else is raised so that SQS delivers the message again; on the last
allowed delivery the task is marked ``failed`` before the message goes to the
dead-letter queue, so no task is left ``processing``.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from pixelmill.dal import Stores
from pixelmill.errors import ImageTooLarge, NotFound, ProcessingError, TaskTimeout
from pixelmill.models.ids import image_key, result_image_id
from pixelmill.models.task import Task, TaskError, TaskStatus
from pixelmill.observability import logger
from pixelmill.settings import Settings
from pixelmill.transforms import Limits, Rendered, registry

_STARTABLE = (TaskStatus.NEW, TaskStatus.QUEUED, TaskStatus.PROCESSING)

# Share of the progress bar each stage ends at; the transform reports in between.
PROGRESS_STARTED = 5
PROGRESS_DOWNLOADED = 20
PROGRESS_TRANSFORMED = 90


def process_task(task_id: str, *, attempt: int, stores: Stores, settings: Settings, timeout: float) -> Task | None:
    """Process one delivery of ``task_id`` (``attempt`` is SQS's receive count).

    Returns the task as it ended, or None when there was nothing to do (gone,
    already finished, or cancelled meanwhile). Raises for transient failures.
    """
    task = stores.tasks.get(task_id)
    if task is None or task.status.is_terminal:
        logger.info("nothing to do", extra={"task_id": task_id, "status": task.status.value if task else None})
        return None
    started = stores.tasks.transition(task_id, TaskStatus.PROCESSING, _STARTABLE, progress=PROGRESS_STARTED)
    if started is None:
        return None
    clock = time.monotonic()
    try:
        with deadline(timeout):
            rendered = _render(started, stores, settings)
        key = image_key(result_image_id(task_id))
        stores.images.put(key, rendered.data, rendered.content_type, {"task-id": task_id})
    except ProcessingError as error:
        return _fail(task_id, error.code, error.message, stores, time.monotonic() - clock)
    except Exception as error:
        if attempt >= settings.max_receive_count:
            message = f"gave up after {attempt} attempts; last error: {type(error).__name__}"
            _fail(task_id, "retries_exhausted", message, stores, time.monotonic() - clock)
        raise

    done = stores.tasks.transition(
        task_id,
        TaskStatus.DONE,
        [TaskStatus.PROCESSING],
        progress=100,
        duration=round(time.monotonic() - clock, 3),
        new_image_id=result_image_id(task_id),
        result_key=key,
        result_content_type=rendered.content_type,
        result_extension=rendered.extension,
    )
    if done is None:
        # Cancelled or deleted while we worked: leave nothing behind.
        stores.images.delete(key)
        logger.info("task cancelled during processing", extra={"task_id": task_id})
    return done


def _render(task: Task, stores: Stores, settings: Settings) -> Rendered:
    """Download the source and run the task's function on it."""
    try:
        function = registry.parse(task.function_type, task.function_args)
    except Exception as error:  # validated at POST; only a changed catalog gets here
        raise ProcessingError(f"the task's function is no longer valid: {error}", "invalid_function") from None
    key = image_key(task.image_id)
    stored = stores.images.head(key)
    if stored is None:
        raise ProcessingError(f"image {task.image_id} no longer exists", "image_not_found")
    # Presigned POST limits are enforced by S3, not by every emulator: check again.
    if stored.size > settings.max_upload_bytes:
        raise ImageTooLarge(f"source is {stored.size} bytes; the limit is {settings.max_upload_bytes}")
    try:
        source = stores.images.get(key)
    except NotFound:
        raise ProcessingError(f"image {task.image_id} no longer exists", "image_not_found") from None
    stores.tasks.set_progress(task.task_id, PROGRESS_DOWNLOADED)

    reported = PROGRESS_DOWNLOADED

    def progress(percent: int) -> None:
        nonlocal reported
        overall = PROGRESS_DOWNLOADED + (PROGRESS_TRANSFORMED - PROGRESS_DOWNLOADED) * max(0, min(percent, 100)) // 100
        if overall - reported >= 10:  # a write per 10 points is plenty for a poller
            stores.tasks.set_progress(task.task_id, overall)
            reported = overall

    return function.run(source, Limits.from_settings(settings), progress)


def _fail(task_id: str, code: str, message: str, stores: Stores, duration: float) -> Task | None:
    logger.warning("task failed", extra={"task_id": task_id, "code": code, "reason": message})
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
