"""A local Lambda execution environment: one process per function instance.

Each function of the template runs in processes of its own, as on Lambda: its
own environment (built from the template), its own module ``app`` imported
from its ``CodeUri``, its handler called in the main thread (the per-task
deadline uses SIGALRM), killed when it outlives the function's ``Timeout`` and
started afresh after a crash.

The parent (``FunctionPool``) talks to a worker (``python -m
infra.local.runtime``) over pipes: one JSON line per invocation on the
worker's stdin, one JSON line back on the worker's original stdout. Whatever
the handler prints or logs goes to stderr, which the parent turns into its log.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from infra.events import LocalContext

ROOT = Path(__file__).resolve().parents[2]


class InvocationError(Exception):
    """The function did not return: it raised, crashed or timed out (Lambda's error shape)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class FunctionSpec:
    """What it takes to run one function of the template locally."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: Mapping[str, str]
    layer_dirs: tuple[Path, ...] = ()


@dataclass
class Invocation:
    """The outcome of one call: the handler's result and how long it took."""

    result: Any
    request_id: str
    duration_ms: float


LogSink = Callable[[str, str], None]
"""Called with (function logical id, one line the function wrote to stdout or stderr)."""


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    replies: IO[bytes]
    started: float = field(default_factory=time.monotonic)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.replies):
            if stream is not None:
                stream.close()


class FunctionPool:
    """Up to ``size`` warm instances of one function; an invocation waits for a free one."""

    def __init__(self, spec: FunctionSpec, *, size: int = 1, log: LogSink, base_environment: Mapping[str, str]) -> None:
        self.spec = spec
        self._size = size
        self._log = log
        self._base_environment = dict(base_environment)
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._count = 0
        self._lock = threading.Lock()
        self._closed = False

    def warm(self) -> None:
        """Start one instance now, so that the first call does not pay for the imports."""
        with self._lock:
            if self._count >= self._size:
                return
            self._count += 1
        self._idle.put(self._spawn())

    def invoke(self, event: Any) -> Invocation:
        """Call the handler with ``event``; raises ``InvocationError`` if it does not return."""
        worker = self._acquire()
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        try:
            reply = self._call(worker, event, request_id)
        except InvocationError:
            worker.kill()
            self._release(None)
            raise
        self._release(worker)
        if "error" in reply:
            error = reply["error"]
            raise InvocationError(str(error.get("errorType", "Error")), str(error.get("errorMessage", "")))
        return Invocation(reply.get("result"), request_id, (time.monotonic() - started) * 1000)

    def close(self) -> None:
        """Stop every instance."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    def _call(self, worker: _Worker, event: Any, request_id: str) -> dict[str, Any]:
        assert worker.process.stdin is not None
        request = {"event": event, "request_id": request_id, "timeout": self.spec.timeout_seconds}
        try:
            worker.process.stdin.write(json.dumps(request).encode() + b"\n")
            worker.process.stdin.flush()
        except OSError as error:
            raise InvocationError("Runtime.ExitError", f"the function's process has gone: {error}") from error
        replies: queue.Queue[bytes] = queue.Queue()
        reader = threading.Thread(target=lambda: replies.put(worker.replies.readline()), daemon=True)
        reader.start()
        try:
            line = replies.get(timeout=self.spec.timeout_seconds)
        except queue.Empty:
            raise InvocationError(
                "Sandbox.Timedout", f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
            ) from None
        if not line:
            status = worker.process.wait()
            raise InvocationError("Runtime.ExitError", f"the function's process exited with status {status}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _acquire(self) -> _Worker:
        while True:
            if self._closed:
                raise InvocationError("Runtime.Stopped", "the local stack is stopping")
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                with self._lock:
                    room = self._count < self._size
                    if room:
                        self._count += 1
                if room:
                    return self._spawn()
                try:
                    worker = self._idle.get(timeout=1.0)
                except queue.Empty:
                    continue
            if worker.alive:
                return worker
            worker.kill()
            self._release(None)

    def _release(self, worker: _Worker | None) -> None:
        if worker is None or self._closed:
            with self._lock:
                self._count -= 1
            if worker is not None:
                worker.kill()
            return
        self._idle.put(worker)

    def _spawn(self) -> _Worker:
        """Start an instance (its slot in ``_count`` is already taken) and wait for its INIT."""
        spec = self.spec
        environment = {
            **self._base_environment,
            **spec.environment,
            # What Lambda sets in every execution environment (and `sam local` adds AWS_SAM_LOCAL).
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_seconds)),
            "AWS_SAM_LOCAL": "true",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(str(path) for path in (*spec.layer_dirs, ROOT)),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.runtime", str(spec.code_dir), spec.handler],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Ctrl-C on the terminal is for the stack, which stops its functions itself.
            start_new_session=True,
        )
        assert process.stdout is not None
        assert process.stderr is not None
        threading.Thread(target=self._forward_logs, args=(process.stderr,), daemon=True).start()
        worker = _Worker(process, process.stdout)
        # The first line says the handler imported (Lambda's INIT phase), or why not.
        ready = worker.replies.readline()
        if not ready or "error" in json.loads(ready):
            worker.kill()
            with self._lock:
                self._count -= 1
            detail = json.loads(ready)["error"]["errorMessage"] if ready else "the process exited"
            raise InvocationError("Runtime.ImportModuleError", f"{spec.logical_id}: {detail}")
        return worker

    def _forward_logs(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            if line:
                self._log(self.spec.logical_id, line)


# --- the worker side ---------------------------------------------------------------


def serve(code_dir: str, handler_path: str) -> None:
    """The worker's loop: import the handler, then answer one request per line until stdin closes."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints and logs go to the parent's log
    # Only the function's code and its layers, as on Lambda (not the repository root).
    sys.path[:] = [code_dir] + [p for p in sys.path if p not in ("", str(ROOT))]
    module_name, function_name = handler_path.rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:
        traceback.print_exc()
        replies.write(json.dumps({"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}) + "\n")
        replies.flush()
        return
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(
            function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function"),
            timeout_seconds=float(request["timeout"]),
            memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
            aws_request_id=request["request_id"],
            region=os.environ.get("AWS_REGION", "us-east-1"),
        )
        try:
            reply: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as error:
            traceback.print_exc()
            reply = {"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        replies.write(json.dumps(reply, default=str) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
