"""Cold imports: each handler against a bare import of its own dependencies.

For each function, a fresh interpreter imports ``functions/<name>/app.py``
(as Lambda's init does) and lists the third-party modules that loaded; the
baseline is a fresh interpreter importing exactly those modules and nothing of
pixelmill. The ratio (handler / baseline, medians of interleaved runs) is what
pixelmill's own code adds to a cold start; the target is at most 1.25. Run with
``make bench``.
"""

from __future__ import annotations

import json
import os
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


def main() -> None:
    """Print each handler's cold import as a ratio of its bare dependencies'."""
    print(f"cold import, handler / its bare dependencies (median of {ROUNDS}, target <= {TARGET}):")  # noqa: T201
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
        ratio = statistics.median(handler) / statistics.median(bare)
        verdict = "ok" if ratio <= TARGET else "OVER TARGET"
        print(  # noqa: T201
            f"  {app.parent.name:<10} {ratio:5.2f}x  {verdict:<11} (handler {statistics.median(handler) * 1000:4.0f} ms, "
            f"bare {statistics.median(bare) * 1000:4.0f} ms, {len(json.loads(modules))} third-party modules)"
        )


if __name__ == "__main__":
    main()
