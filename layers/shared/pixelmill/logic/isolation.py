"""Each task's transform in a child process of its own, with hard limits.

A bomb, a crash in a C library or a GDAL/AVIF call that never looks at the
clock then fails only its own task, with a reason, and the batch and the warm
worker carry on:

- memory: the child's address space may grow by at most ``memory_bytes``
  (RLIMIT_AS); an allocation beyond it fails (``MemoryError`` in Python, an
  out-of-memory error in GDAL) and the task fails ``out_of_memory``;
- time: the caller's deadline (SIGALRM in the worker) interrupts the wait, and
  the child is killed: ``timeout``;
- cancel: ``cancelled`` is asked about once a second; when it says so the child
  is killed and TaskCancelled raised;
- a child that dies without an answer (a segfault, an abort) fails ``crashed``.

The child is forked: it starts with the worker's modules already imported, which
costs a few milliseconds (``make bench`` measures it against spawn). It never
touches AWS; progress goes to the parent over a pipe, which writes it. Only a
Process and a Pipe are used: Lambda has no /dev/shm, which multiprocessing's
queues and pools need.

GDAL's thread pools (multi-threaded warping and compression) do not survive a
fork: a child of a process that has used one waits forever on threads it does
not have. The worker's own process never runs GDAL's pixel work (every transform
runs in a child; the API's CRS checks use PROJ alone), and it must stay so.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pixelmill.errors import PixelmillError, ProcessingError, readable
from pixelmill.transforms import ImageFunction, Limits, Progress, Rendered, RenderedFile

CANCEL_CHECK_SECONDS = 1.0
"""How often the parent asks whether the task was cancelled while the child works."""

_PR_SET_PDEATHSIG = 1


class TaskCancelled(Exception):
    """The task was cancelled (or deleted) while its transform ran; the child was killed."""


def run_isolated(
    function: ImageFunction,
    source: Path,
    workdir: Path,
    limits: Limits,
    progress: Progress,
    *,
    memory_bytes: int,
    cancelled: Callable[[], bool],
) -> Rendered | RenderedFile:
    """``function.run_file(source, workdir, limits)`` in a forked child within
    ``memory_bytes`` more address space, reporting ``progress`` here.

    Raises ProcessingError (``out_of_memory``, ``crashed``, or the transform's
    own), TaskCancelled, and whatever interrupts the wait (TaskTimeout).
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child,
        args=(function, source, workdir, limits, memory_bytes, sender),
        name="pixelmill-transform",
        daemon=True,
    )
    # Objects of the worker stay out of the child's garbage collections: it neither scans nor
    # copies the pages they are on (https://docs.python.org/3/library/gc.html#gc.freeze).
    gc.freeze()
    try:
        child.start()
    finally:
        gc.unfreeze()
    sender.close()
    answer = None
    try:
        answer = _wait(child, receiver, progress, cancelled)
    finally:
        receiver.close()
        if answer is None:  # stopped (timeout, cancel, the worker's own error) or dead: make sure it is gone
            child.kill()
            child.join()
        # A child that answered exits by itself while the worker goes on (storing the result);
        # multiprocessing reaps it when the next child starts.
    if answer is None:
        raise _died(child.exitcode, memory_bytes)
    kind, value = answer
    if kind == "error":
        raise ProcessingError(value[1], value[0])
    result: Rendered | RenderedFile = value
    return result


def _wait(
    child: Any, receiver: Connection, progress: Progress, cancelled: Callable[[], bool]
) -> tuple[str, Any] | None:
    """Relay the child's progress until its answer (None if it died without one); raise
    TaskCancelled when the task is cancelled meanwhile (the caller then kills the child)."""
    next_check = time.monotonic() + CANCEL_CHECK_SECONDS
    while True:
        if receiver.poll(0.1):
            try:
                kind, value = receiver.recv()
            except EOFError:  # the child died without an answer
                return None
            if kind != "progress":
                return kind, value
            progress(value)
        elif not child.is_alive() and not receiver.poll():
            return None
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + CANCEL_CHECK_SECONDS
            if cancelled():
                raise TaskCancelled


def _died(exitcode: int | None, memory_bytes: int) -> ProcessingError:
    """The error of a child that ended without an answer."""
    if exitcode is not None and exitcode < 0 and -exitcode == signal.SIGKILL:
        # Only the kernel's OOM killer (or an operator) sends SIGKILL to a child we did not kill.
        return ProcessingError(
            f"the transform was killed, most likely out of memory (its limit is {memory_bytes // 2**20:,} MiB, "
            "TaskMemoryMiB)",
            "out_of_memory",
        )
    how = f"exit status {exitcode}"
    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    return ProcessingError(
        f"the transform crashed ({how}) on this image: a library it uses failed on its content", "crashed"
    )


def _child(
    function: ImageFunction, source: Path, workdir: Path, limits: Limits, memory_bytes: int, sender: Connection
) -> None:
    """The child's side: set the limits, run the transform, send the answer."""
    _die_with_parent()
    # What is mapped already (the worker's libraries, shared with it) plus the task's memory.
    address_space = _address_space() + memory_bytes
    with contextlib.suppress(ValueError, OSError):  # a platform without RLIMIT_AS runs unlimited
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    out_of_memory = (
        "error",
        (
            "out_of_memory",
            f"the transform needed more than {memory_bytes // 2**20:,} MiB (TaskMemoryMiB) on this image",
        ),
    )

    def report(percent: int) -> None:
        sender.send(("progress", percent))

    try:
        answer: tuple[str, Any] = ("result", function.run_file(source, workdir, limits, report))
    except MemoryError:
        answer = out_of_memory
    except PixelmillError as error:
        answer = ("error", (error.code, error.message))
    except BaseException as error:
        traceback.print_exc(file=sys.stderr)  # the worker's log gets the details
        fallback = "an internal error (logged with the task id)"
        answer = ("error", ("transform_failed", f"the {function.name} transform failed: {readable(error, fallback)}"))
    try:
        sender.send(answer)
    except MemoryError:  # a result too large to send within the limit
        sender.send(out_of_memory)
    sender.close()


def _address_space() -> int:
    """Bytes of address space this process has mapped now (its VmSize)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _die_with_parent() -> None:
    """Ask the kernel to kill this child when the worker dies (Linux), so that a killed
    worker leaves no transform running on its own."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
