"""Each transform in a child process with hard limits: a child out of memory, one that
crashes and one past its time fail only their own tasks, with a reason; the batch
and the warm worker carry on; cancelling a task stops its work."""

from __future__ import annotations

import faulthandler
import os
import signal
import threading
import time
from typing import Any

import pytest

from pixelmill.catalog import registry
from pixelmill.settings import get_settings
from tests.imagegen import jpeg_bytes
from tests.integration.conftest import Stack


def _create(stack: Stack, function_type: str, args: dict[str, Any]) -> str:
    task_id: str = stack.create_task(stack.upload(jpeg_bytes(64, 48)), function_type, args)["task_id"]
    return task_id


def _patch_run(monkeypatch: pytest.MonkeyPatch, function_type: str, run: Any) -> None:
    monkeypatch.setattr(registry.implementation(function_type), "run", run)


def test_a_child_out_of_memory_or_crashing_fails_only_its_own_task(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a transform memory limit of 256 MiB, a transform that allocates 2 GiB (a bomb the
    # estimate missed), one that crashes in native code, and a plain task, in one batch
    monkeypatch.setenv("PIXELMILL_TASK_MEMORY_MIB", "256")
    get_settings.cache_clear()

    def allocate(self: Any, *args: Any, **kwargs: Any) -> Any:
        return bytearray(2 * 1024**3)

    def segfault(self: Any, *args: Any, **kwargs: Any) -> Any:
        faulthandler.disable()  # pytest's: its dump of every thread would only clutter the output
        os.kill(os.getpid(), signal.SIGSEGV)

    _patch_run(monkeypatch, "grayscale", allocate)
    _patch_run(monkeypatch, "flip", segfault)
    bomb = _create(stack, "grayscale", {})
    crash = _create(stack, "flip", {"direction": "horizontal"})
    plain = _create(stack, "thumbnail", {"size": 16})

    # When the batch is processed
    outcome = stack.process_batch()

    # Then each failed for good with its reason, and the plain task of the same batch is done
    assert (outcome.received, outcome.succeeded) == (3, 3)
    assert stack.task(bomb)["error"]["code"] == "out_of_memory"
    assert "256 MiB" in stack.task(bomb)["error"]["message"]
    assert stack.task(crash)["error"]["code"] == "crashed"
    assert "SIGSEGV" in stack.task(crash)["error"]["message"]
    assert stack.task(plain)["status"] == "done"

    # And the warm worker carries on with the next batch
    again = _create(stack, "thumbnail", {"size": 8})
    assert stack.process_batch().succeeded == 1
    assert stack.task(again)["status"] == "done"


def test_a_child_past_its_time_is_killed_and_the_task_fails_timeout(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 2 s task timeout and a transform stuck in a call that never looks at the clock
    monkeypatch.setenv("PIXELMILL_TASK_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    _patch_run(monkeypatch, "grayscale", lambda self, *args, **kwargs: time.sleep(600))
    stuck = _create(stack, "grayscale", {})

    # When processed, Then it fails "timeout" (the child is killed, not waited for)
    stack.process_batch()
    task = stack.task(stuck)
    assert task["error"]["code"] == "timeout"
    assert task["duration"] < 30


def test_cancelling_a_task_stops_its_work(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a transform that would work for ten minutes
    _patch_run(monkeypatch, "grayscale", lambda self, *args, **kwargs: time.sleep(600))
    task_id = _create(stack, "grayscale", {})

    def cancel_once_processing() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stack.task(task_id).get("status") != "processing":
            time.sleep(0.05)
        assert stack.api.delete(f"/api/tasks/{task_id}/").status == 204

    canceller = threading.Thread(target=cancel_once_processing)
    canceller.start()

    # When the client deletes it while it is processing
    started = time.monotonic()
    outcome = stack.process_batch()
    canceller.join()

    # Then the worker stopped the transform at its next check (about a second), not after ten minutes
    assert outcome.succeeded == 1
    assert time.monotonic() - started < 30
    assert stack.api.get(f"/api/tasks/{task_id}/").status == 404
