"""Cold imports: each handler against a bare import of its own dependencies.

For each function, a fresh interpreter imports ``functions/<name>/app.py``
(as Lambda's init does) and lists the third-party modules that loaded; the
baseline is a fresh interpreter importing exactly those modules and nothing of
pixelmill. The ratio (handler / baseline) is what pixelmill's own code adds to
a cold start; the target is at most 1.25. Two measures of it:

- wall time, medians of interleaved runs: what a cold start waits for, but on a
  shared machine it moves with the load by more than the margin measured;
- instructions executed, counted by valgrind's callgrind (when valgrind is
  installed): repeatable to a few parts in a thousand whatever else the machine
  runs, blind to waiting on files. The verdict uses it when it is there.

Run with ``make bench``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 7
TARGET = 1.25

_LOAD_HANDLER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if len(sys.argv) > 2:
    stdlib = set(sys.stdlib_module_names)
    third_party = [name for name in sys.modules if name.split(".")[0] not in stdlib
                   and not name.startswith(("pixelmill", "app", "_"))]
    print(json.dumps(sorted(third_party)))
"""

_LOAD_MODULES = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception:
        pass  # an alias some package registers in sys.modules (six.moves...), not importable by name
"""


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "shared"), "AWS_DEFAULT_REGION": "us-east-1"}


def _seconds(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", *args], env=_environment(), check=True, capture_output=True)
    return time.perf_counter() - started


def _instructions(*args: str) -> int | None:
    """Instructions the interpreter executes for ``args`` under callgrind (None without valgrind)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", *args],
        env=_environment(),
        check=True,
        capture_output=True,
        text=True,
    )
    collected = re.search(r"Collected : (\d+)", done.stderr)
    assert collected, done.stderr[-2000:]
    return int(collected.group(1))


def main() -> None:
    """Print each handler's cold import as a ratio of its bare dependencies'."""
    print(  # noqa: T201
        f"cold import, handler / its bare dependencies (target <= {TARGET}): instructions (callgrind), "
        f"wall time (median of {ROUNDS} interleaved)"
    )
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        listed = subprocess.run(
            [sys.executable, "-c", _LOAD_HANDLER, str(app), "list"],
            env=_environment(),
            check=True,
            capture_output=True,
            text=True,
        )
        modules = listed.stdout.strip()
        handler, bare = [], []
        for _ in range(ROUNDS):
            bare.append(_seconds(_LOAD_MODULES, modules))
            handler.append(_seconds(_LOAD_HANDLER, str(app)))
        wall = statistics.median(handler) / statistics.median(bare)
        handler_instructions, bare_instructions = (
            _instructions(_LOAD_HANDLER, str(app)),
            _instructions(_LOAD_MODULES, modules),
        )
        counted = handler_instructions / bare_instructions if handler_instructions and bare_instructions else None
        verdict = "ok" if (counted if counted is not None else wall) <= TARGET else "OVER TARGET"
        print(  # noqa: T201
            f"  {app.parent.name:<10} {f'{counted:5.3f}x' if counted else '  n/a '} {wall:5.2f}x  {verdict:<11} "
            f"(handler {statistics.median(handler) * 1000:4.0f} ms, bare {statistics.median(bare) * 1000:4.0f} ms, "
            f"{len(json.loads(modules))} third-party modules)"
        )


if __name__ == "__main__":
    main()
