"""``python -m infra.local``: run the local stack in the foreground until Ctrl-C (``make dev``)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from infra.local.stack import LocalStack, StackOptions

# Fields of a function's JSON log line that the text format leaves out (noise on a terminal).
_QUIET_FIELDS = {
    "level",
    "message",
    "timestamp",
    "location",
    "service",
    "xray_trace_id",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "sampling_rate",
    "correlation_id",
}


class StackLog:
    """The stack's log: one line per event, as text for a terminal or as JSON lines."""

    def __init__(self, stream: TextIO, *, json_lines: bool) -> None:
        self.stream = stream
        self.json_lines = json_lines
        self._lock = threading.Lock()

    def __call__(self, message: str, *, source: str, level: str = "INFO", raw: bool = False, **fields: Any) -> None:
        """Log ``message`` from ``source``; ``raw`` lines are a function's own output."""
        record: dict[str, Any]
        if raw:
            try:
                parsed = json.loads(message)
                record = parsed if isinstance(parsed, dict) else {"message": message}
            except json.JSONDecodeError:
                record = {"message": message}
            record.setdefault("level", "INFO")
        else:
            record = {"level": level, "message": message, **{k: v for k, v in fields.items() if v is not None}}
        record["source"] = source
        with self._lock:
            self.stream.write((json.dumps(record, default=str) if self.json_lines else _as_text(record)) + "\n")
            self.stream.flush()


def _as_text(record: dict[str, Any]) -> str:
    clock = time.strftime("%H:%M:%S")
    source = record.get("source", "")
    if "_aws" in record:  # Powertools metrics (EMF)
        return f"{clock} {source:<18} metrics {_metrics_text(record)}"
    if record.get("message") == "request" and "status" in record:
        return f"{clock} {source:<18} {record['method']} {record['path']} → {record['status']} ({record['duration_ms']} ms)"
    extras = " ".join(
        f"{key}={value}"
        for key, value in record.items()
        if key not in _QUIET_FIELDS | {"source"} and not (key == "name" and value == "pixelmill")
    )
    level = record.get("level", "INFO")
    level_text = "" if level == "INFO" else f"{level} "
    return f"{clock} {source:<18} {level_text}{record.get('message', '')}" + (f"  {extras}" if extras else "")


def _metrics_text(record: dict[str, Any]) -> str:
    """``function_type=resize: TaskDone=1 ProcessingDuration=0.41 s BytesIn=48211 B``: the
    dimensions (but the service), then each metric with its unit."""
    definitions = record["_aws"].get("CloudWatchMetrics", [])
    dimensions = sorted({name for d in definitions for names in d.get("Dimensions", []) for name in names})
    shown = [f"{name}={record.get(name)}" for name in dimensions if name != "service"]
    units = {"Seconds": " s", "Milliseconds": " ms", "Bytes": " B"}
    values = []
    for metric in (m for d in definitions for m in d.get("Metrics", [])):
        value = record.get(metric["Name"])
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values.append(f"{metric['Name']}={value}{units.get(metric.get('Unit', ''), '')}")
    return (" ".join(shown) + ": " if shown else "") + " ".join(values)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, default=3000, help="local API Gateway port (default 3000)")
    parser.add_argument("--aws-port", type=int, default=5005, help="AWS emulator (moto) port (default 5005)")
    parser.add_argument("--region", default="us-east-1", help="AWS region the emulator pretends to be")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the data across restarts in this folder (saved on stop, restored on start)",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters, as `sam deploy --parameter-overrides` takes them",
    )
    parser.add_argument("--json-logs", action="store_true", help="log JSON lines instead of text")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT or SIGTERM, then stop cleanly (keeping the data if asked)."""
    args = parse_args(argv)
    overrides = {}
    for item in args.parameter_overrides:
        name, separator, value = item.partition("=")
        if not separator:
            sys.stderr.write(f"--parameter-overrides: expected NAME=VALUE, got {item!r}\n")
            return 2
        overrides[name] = value
    log = StackLog(sys.stdout, json_lines=args.json_logs)
    options = StackOptions(
        host=args.host,
        api_port=args.api_port,
        aws_port=args.aws_port,
        region=args.region,
        data_dir=args.data_dir,
        parameter_overrides=overrides,
    )
    stack = LocalStack(options, log)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    started = time.monotonic()
    try:
        stack.start()
    except OSError as error:
        sys.stderr.write(f"cannot start the local stack: {error}\n")
        stack.stop()
        return 1
    banner = [f"pixelmill local stack is up ({time.monotonic() - started:.1f} s)"]
    width = max(len(label) for label, _ in stack.describe())
    banner += [f"  {label:<{width}}  {value}" for label, value in stack.describe()]
    banner += [
        "Every API call is signed (AWS SigV4, as on AWS). To call as the local user, paste in another terminal:",
        f"  {stack.credentials()}",
        "Stop with Ctrl-C.",
    ]
    sys.stdout.write("\n".join(banner) + "\n")
    sys.stdout.flush()
    stopping.wait()
    log("stopping", source="local-stack")
    stack.stop()
    log("stopped", source="local-stack")
    return 0


if __name__ == "__main__":
    sys.exit(main())
