"""Keeping a batch's messages hidden while a live worker has them (a heartbeat).

The queue's own visibility timeout must be at least the processor's Lambda
timeout (AWS refuses the event source otherwise), so a worker that dies would
hold its whole batch that long. Instead the worker hides every message of its
batch for a short ``visibility`` and extends it every third of that while it
lives: a dead worker's messages come back after at most ``visibility`` seconds.
A message the worker will not reach before its deadline is released at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

from pixelmill.observability import logger
from pixelmill.stores import TaskQueue


class BatchLease:
    """The messages of one batch, kept hidden for ``visibility`` seconds at a time
    until each is finished or released (use as a context manager)."""

    def __init__(self, queue: TaskQueue, receipt_handles: Sequence[str], visibility: int) -> None:
        self._queue = queue
        self._pending = list(dict.fromkeys(receipt_handles))
        self._visibility = visibility
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="visibility-heartbeat", daemon=True)

    def __enter__(self) -> BatchLease:
        self._extend()
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def finish(self, receipt_handle: str) -> None:
        """Stop extending a message the worker is done with (it is deleted, or returns to the
        queue when its visibility ends: a retry comes after at most ``visibility`` seconds)."""
        with self._lock:
            if receipt_handle in self._pending:
                self._pending.remove(receipt_handle)

    def retry_later(self, receipt_handle: str) -> None:
        """Return a message that failed to the queue after the queue's own visibility
        timeout (the retry delay SQS gives any failed delivery), as if never extended."""
        self.finish(receipt_handle)
        try:
            delay = self._queue.visibility_timeout()
        except Exception:
            logger.exception("could not read the queue's visibility timeout")
            return  # the message comes back when its current visibility ends
        self._set([receipt_handle], delay)

    def release(self, receipt_handle: str) -> None:
        """Make a message the worker will not process visible again at once, for another worker."""
        self.finish(receipt_handle)
        self._set([receipt_handle], 0)

    def _beat(self) -> None:
        while not self._stop.wait(max(1.0, self._visibility / 3)):
            self._extend()

    def _extend(self) -> None:
        with self._lock:
            pending = list(self._pending)
        if pending:
            self._set(pending, self._visibility)

    def _set(self, receipt_handles: list[str], seconds: int) -> None:
        try:
            self._queue.set_visibility(receipt_handles, seconds)
        except Exception:  # a missed beat is retried at the next; the work goes on
            logger.exception("could not change the visibility of the batch's messages")
