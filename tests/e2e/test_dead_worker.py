"""A worker killed mid-batch on the local stack (as Lambda kills one at its memory
limit or timeout) costs its tasks about the visibility period, not half an hour."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.e2e.conftest import VISIBILITY, RunningStack
from tests.e2e.test_local_stack import create, upload, wait_all
from tests.imagegen import jpeg_bytes

SLOW_STEPS = {"steps": [{"function_type": "blur", "function_args": {"radius": 40}}] * 15}
"""A few seconds of work on a 2000×2000 photo: long enough to kill the worker in the middle."""


def _processor_pids(stack: RunningStack) -> list[int]:
    """The ProcessorFunction instances of this stack (its own children, never another stack's)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if (
            parent == stack.process.pid
            and b"infra.local.runtime" in command
            and any(part.endswith(b"functions/processor") for part in command)
        ):
            pids.append(int(entry.name))
    return pids


def _status(stack: RunningStack, task_id: str) -> str:
    status: str = stack.session.get(f"{stack.api}/tasks/{task_id}/", timeout=30).json()["status"]
    return status


def test_a_worker_killed_mid_batch_costs_its_tasks_about_the_visibility_period(local_stack: RunningStack) -> None:
    # Given the worker busy with a first slow task, while a batch of five is queued behind it:
    # a slow task and four thumbnails
    photo = upload(local_stack, jpeg_bytes(2000, 2000))
    small = [upload(local_stack, jpeg_bytes(320, 240)) for _ in range(4)]
    blocker = create(local_stack, photo, "pipeline", SLOW_STEPS)["task_id"]
    deadline = time.monotonic() + 60
    while _status(local_stack, blocker) != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    slow = create(local_stack, photo, "pipeline", SLOW_STEPS)["task_id"]
    batch = [slow] + [create(local_stack, image, "thumbnail", {"size": 64})["task_id"] for image in small]

    # When the worker is killed while it processes that batch
    deadline = time.monotonic() + 90
    while "processing" not in {_status(local_stack, task_id) for task_id in batch}:
        assert time.monotonic() < deadline, "the batch never started"
        time.sleep(0.1)
    pids = _processor_pids(local_stack)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()

    # Then every task of the batch ends within 3 minutes (about the visibility period), all done
    finished = wait_all(local_stack, batch, timeout=180)
    assert {task["status"] for task in finished.values()} == {"done"}
    assert time.monotonic() - killed < 180
    # And the work did resume on a fresh worker after about the visibility period, not the queue's 300 s
    assert time.monotonic() - killed < 6 * VISIBILITY + 30
    wait_all(local_stack, [blocker], timeout=60)
