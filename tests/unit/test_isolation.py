"""run_isolated on its own: what a child's end becomes, and what it leaves the worker."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from pixelmill.catalog import registry
from pixelmill.errors import ProcessingError
from pixelmill.logic.isolation import TaskCancelled, run_isolated
from pixelmill.transforms import Limits
from tests.imagegen import image_bytes

MIB = 1024 * 1024


def _run(tmp_path: Path, limits: Limits, cancelled: bool = False) -> Any:
    source = tmp_path / "source"
    source.write_bytes(image_bytes("PNG", 32, 32))
    workdir = tmp_path / "work"
    workdir.mkdir()
    reported: list[int] = []
    result = run_isolated(
        registry.load("grayscale", {}),
        source,
        workdir,
        limits,
        reported.append,
        memory_bytes=256 * MIB,
        cancelled=lambda: cancelled,
    )
    return result, reported


def test_the_result_and_progress_come_back_from_the_child(tmp_path: Path, limits: Limits) -> None:
    result, reported = _run(tmp_path, limits)
    assert result.metadata == {"width": 32, "height": 32, "frames": 1}
    assert reported[-1] == 100


def test_a_child_killed_from_outside_is_reported_out_of_memory(
    tmp_path: Path, limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a child the kernel's OOM killer takes (SIGKILL, no answer)
    monkeypatch.setattr(
        registry.implementation("grayscale"), "run", lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    )
    with pytest.raises(ProcessingError) as caught:
        _run(tmp_path, limits)
    assert caught.value.code == "out_of_memory"
    assert "256 MiB" in caught.value.message


def test_a_child_that_exits_without_an_answer_crashed(
    tmp_path: Path, limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry.implementation("grayscale"), "run", lambda *args, **kwargs: os._exit(3))
    with pytest.raises(ProcessingError, match="exit status 3") as caught:
        _run(tmp_path, limits)
    assert caught.value.code == "crashed"


def test_a_cancelled_task_s_child_is_killed(tmp_path: Path, limits: Limits, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(registry.implementation("grayscale"), "run", lambda *args, **kwargs: time.sleep(600))
    with pytest.raises(TaskCancelled):
        _run(tmp_path, limits, cancelled=True)
