"""The worker's lifecycle races, on in-memory stores: logic alone, no AWS and no moto.

Real images through the real transforms; only storage is in memory
(tests/unit/memory_stores.py implements pixelmill.stores' interfaces).
"""

from __future__ import annotations

from typing import cast

import pytest

from pixelmill.logic.processing import TaskDeferred, process_task
from pixelmill.logic.tasks import create_task, delete_task
from pixelmill.models.ids import image_key, new_image_id, render_cache_prefix, result_image_id
from pixelmill.models.task import Task, TaskCreate, TaskStatus
from pixelmill.settings import Settings
from pixelmill.stores import Stores
from tests.imagegen import image_bytes
from tests.unit.memory_stores import MemoryImageStore, MemoryTaskQueue, MemoryTaskStore, memory_stores

OWNER = "AIDAJQABLZS4A3QDU576Q"
SETTINGS = Settings(task_timeout_seconds=30, max_receive_count=3)


@pytest.fixture
def stores() -> Stores:
    return memory_stores()


def _queued(stores: Stores, **args: object) -> str:
    """A task resizing an uploaded JPEG, created and queued as the API does; its id."""
    image_id = new_image_id()
    stores.images.put(image_key(image_id, OWNER), image_bytes("JPEG", 64, 48), "image/jpeg")
    request = TaskCreate(image_id=image_id, function_type="resize", function_args={"width": 32, **args})
    task = create_task(request, OWNER, stores, SETTINGS)
    assert cast(MemoryTaskQueue, stores.queue).sent == [task.task_id]
    return task.task_id


def _process(stores: Stores, task_id: str, attempt: int = 1, timeout: float = 60) -> Task | None:
    return process_task(task_id, attempt=attempt, stores=stores, settings=SETTINGS, timeout=timeout)


def _status(stores: Stores, task_id: str) -> TaskStatus | None:
    task = stores.tasks.get(task_id)
    return None if task is None else task.status


def _result(stores: Stores, task_id: str) -> bytes | None:
    stored = cast(MemoryImageStore, stores.images).objects.get(image_key(result_image_id(task_id), OWNER))
    return stored[0] if stored else None


def test_a_task_runs_to_done_with_its_result_stored(stores: Stores) -> None:
    task_id = _queued(stores)
    done = _process(stores, task_id)
    assert stores.tasks.get(task_id) == done
    assert done is not None
    assert _status(stores, task_id) is TaskStatus.DONE
    assert (_result(stores, task_id) or b"")[:3] == b"\xff\xd8\xff"


def test_a_task_cancelled_while_processing_leaves_no_result(stores: Stores) -> None:
    # Given a task that its owner deletes (cancel, then delete) while the worker transforms it
    task_id = _queued(stores)
    tasks = cast(MemoryTaskStore, stores.tasks)
    cancelled: list[int] = []

    def cancel_once(progress_of: str, progress: int) -> None:
        if not cancelled:
            cancelled.append(progress)
            tasks.transition(progress_of, TaskStatus.CANCELLED, [TaskStatus.PROCESSING])

    tasks.on_progress = cancel_once

    # When the worker finishes the transform
    outcome = _process(stores, task_id)

    # Then it does not mark it done, and removes the result it wrote
    assert cancelled
    assert outcome is None
    assert _status(stores, task_id) is TaskStatus.CANCELLED
    assert _result(stores, task_id) is None


def test_a_task_deleted_while_processing_leaves_neither_record_nor_result(stores: Stores) -> None:
    task_id = _queued(stores)
    tasks = cast(MemoryTaskStore, stores.tasks)
    tasks.on_progress = lambda progress_of, _progress: (
        delete_task(progress_of, OWNER, stores) if tasks.get(progress_of) else None
    )

    assert _process(stores, task_id) is None
    assert tasks.get(task_id) is None
    assert _result(stores, task_id) is None


def test_a_duplicate_delivery_after_done_changes_nothing(stores: Stores) -> None:
    # Given a task done by its first delivery
    task_id = _queued(stores)
    first = _process(stores, task_id)
    result = _result(stores, task_id)

    # When SQS delivers its message again (at-least-once)
    again = _process(stores, task_id, attempt=2)

    # Then there is nothing to do: the task and its result stay as they were
    assert again is None
    assert stores.tasks.get(task_id) == first
    assert _result(stores, task_id) == result


def test_a_duplicate_delivery_racing_the_first_leaves_one_done_task(stores: Stores) -> None:
    # Given two deliveries of the same message, the second while the first is transforming
    task_id = _queued(stores)
    tasks = cast(MemoryTaskStore, stores.tasks)
    outcomes: list[Task | str | None] = []

    def second_delivery(progress_of: str, progress: int) -> None:
        if not outcomes:
            outcomes.append("started")
            tasks.on_progress = None
            outcomes.append(_process(stores, progress_of, attempt=2))

    tasks.on_progress = second_delivery

    # When both finish
    first = _process(stores, task_id)

    # Then the one that finished first marked it done; the other found it done and wrote nothing more
    second = outcomes[1]
    assert second is not None
    assert first is None
    assert _status(stores, task_id) is TaskStatus.DONE
    assert _result(stores, task_id) is not None


def test_a_delivery_with_too_little_time_left_is_deferred_untouched(stores: Stores) -> None:
    # Given an invocation with less time left than a task's timeout
    task_id = _queued(stores)
    before = stores.tasks.get(task_id)

    # Then the task is not started: its message goes back to the queue for a fresh invocation
    with pytest.raises(TaskDeferred):
        _process(stores, task_id, attempt=1, timeout=SETTINGS.task_timeout_seconds - 1)
    assert stores.tasks.get(task_id) == before

    # But on its last allowed delivery it runs with what time there is
    done = _process(stores, task_id, attempt=SETTINGS.max_receive_count, timeout=SETTINGS.task_timeout_seconds - 1)
    assert done is not None
    assert done.status is TaskStatus.DONE


def test_a_source_gone_before_processing_fails_the_task_with_the_reason(stores: Stores) -> None:
    # Given a task whose image was deleted after the POST
    task_id = _queued(stores)
    task = stores.tasks.get(task_id)
    assert task is not None
    stores.images.delete(image_key(task.image_id, OWNER))

    # Then the worker fails it for good (no retry can bring the image back)
    failed = _process(stores, task_id)
    assert failed is not None
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == "image_not_found"
    assert task.image_id in failed.error.message


def test_deleting_a_task_deletes_its_results_cached_renders_and_no_others(stores: Stores) -> None:
    # Given a done task, renders of its result cached for image URLs, and renders of other images
    task_id = _queued(stores)
    _process(stores, task_id)
    result = result_image_id(task_id)
    kept = [
        render_cache_prefix(new_image_id(), OWNER) + "a",
        render_cache_prefix(result, "AROAEXAMPLEROLEID0001") + "a",  # the same id, another tenant's
    ]
    for key in [render_cache_prefix(result, OWNER) + name for name in ("a", "b")] + kept:
        stores.images.put(key, b"rendered", "image/webp")
    # When its owner deletes it
    delete_task(task_id, OWNER, stores)
    # Then the result and its renders are gone; everything else stays
    assert _result(stores, task_id) is None
    objects = cast(MemoryImageStore, stores.images).objects
    assert [key for key in objects if key.startswith("cache/")] == kept
