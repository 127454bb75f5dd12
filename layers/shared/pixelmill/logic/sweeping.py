"""The sweeper's side of the lifecycle: tasks nothing will ever run again are failed.

The worker fails a task itself whenever its code runs; these cover the cases it
cannot see (killed by its timeout or memory limit, a message that expired). They
need no catalog and no transform, so the sweeper loads neither.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import ValidationError

from pixelmill.models.ids import task_id_time
from pixelmill.models.task import TASK_LIFETIME, UNFINISHED_STATUSES, TaskError, TaskStatus, utcnow
from pixelmill.observability import MetricUnit, bind_task, logger, task_metrics, unbind_task
from pixelmill.settings import Settings
from pixelmill.stores import Stores, TaskMessage


def fail_dead_lettered_tasks(stores: Stores, settings: Settings) -> int:
    """Mark ``failed`` every unfinished task whose message reached the dead-letter
    queue; the messages stay there. Returns how many tasks were failed.

    The worker marks a task failed on its last delivery whenever its code runs;
    this covers the deliveries where it could not (the Lambda was killed by its
    timeout or memory limit), so that no task waits forever.
    """
    failed = 0
    for letter in stores.dead_letters.browse():
        unbind_task()
        try:
            task_id = TaskMessage.model_validate_json(letter.body).task_id
        except ValidationError:
            logger.warning("dead letter names no task", extra={"message_id": letter.message_id})
            continue
        bind_task(task_id=task_id)
        reason = (
            f"the task did not finish in {settings.max_receive_count} deliveries (the worker stopped: "
            "out of time or memory); its message is in the dead-letter queue"
        )
        failed += _fail(stores, task_id, UNFINISHED_STATUSES, TaskError(code="retries_exhausted", message=reason))
    unbind_task()
    return failed


def fail_expired_tasks(stores: Stores) -> int:
    """Mark ``failed`` every unfinished task made and last updated longer ago than the
    queue keeps a message (TASK_LIFETIME): its message expired unreceived (or was lost),
    so nothing will ever run it. Returns how many tasks were failed."""
    cutoff = utcnow() - TASK_LIFETIME
    reason = (
        f"the task waited longer than the queue keeps a message ({TASK_LIFETIME.days} days) and its message "
        "expired; create the task again"
    )
    failed = 0
    for task_id in stores.tasks.unfinished_task_ids():
        if task_id_time(task_id) >= cutoff:  # made recently: its message cannot have expired
            continue
        task = stores.tasks.get(task_id)
        if task is None or task.status.is_terminal or task.updated_at >= cutoff:
            continue
        failed += _fail(stores, task_id, [task.status], TaskError(code="message_expired", message=reason))
    unbind_task()
    return failed


def _fail(stores: Stores, task_id: str, expected: Collection[TaskStatus], error: TaskError) -> int:
    """Fail task ``task_id`` with ``error`` if its status is still one of ``expected``, then
    log and count it; how many tasks that failed (0 when it had moved on)."""
    task = stores.tasks.transition(task_id, TaskStatus.FAILED, expected, error=error)
    if task is None:
        return 0
    bind_task(task)
    logger.warning("task failed", extra={"code": error.code, "will_retry": False, "recovered_by": "sweeper"})
    with task_metrics(task.function_type) as metric:
        metric.add_metric(name="TaskFailed", unit=MetricUnit.Count, value=1)
        metric.add_metric(name="SweeperRecovered", unit=MetricUnit.Count, value=1)
    return 1
