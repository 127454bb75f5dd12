"""The ``pixelmill`` command."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from pixelmill_cli.client import DEFAULT_API, ApiError, Client, NoCredentials, Unreachable, signer

FINISHED = ("done", "failed", "cancelled")
# What an image id looks like (an upload's UUIDv7, a result's res-<task id>, a file under incoming/).
IMAGE_ID = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|res-[0-9A-Z]{26}|in-[A-Za-z0-9_-]+)$"
)
BAR_WIDTH = 30


def parse_arg(text: str) -> tuple[str, Any]:
    """``k=v`` → ``(k, v)``, the value read as JSON when it is JSON (``800``, ``true``, ``[1,2]``), else a string."""
    name, separator, raw = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name, value


class Progress:
    """A live progress bar on a terminal; one line per change of status otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._last: tuple[str, int] | None = None
        self._started = time.monotonic()

    def show(self, task: dict[str, Any]) -> None:
        """Draw ``task``'s status and progress."""
        status, percent = str(task["status"]), int(task.get("progress") or 0)
        if self.live:
            filled = BAR_WIDTH * percent // 100
            bar = "█" * filled + "░" * (BAR_WIDTH - filled)
            elapsed = time.monotonic() - self._started
            self.stream.write(f"\r{task['function_type']} [{bar}] {percent:3d}% {status:<10} {elapsed:5.1f} s")
            self.stream.flush()
        elif (status, percent) != self._last:
            self.stream.write(f"{task['function_type']}: {status} {percent}%\n")
        self._last = (status, percent)

    def finish(self) -> None:
        """End the bar's line."""
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def wait(client: Client, task: dict[str, Any], *, timeout: float, interval: float, out: TextIO) -> dict[str, Any]:
    """Poll ``task`` until it finishes (or ``timeout`` seconds pass), drawing its progress."""
    progress = Progress(out)
    deadline = time.monotonic() + timeout
    try:
        while True:
            progress.show(task)
            if task["status"] in FINISHED:
                return task
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"task {task['task_id']} did not finish in {timeout:.0f} s (it goes on; see `pixelmill task {task['task_id']}`)"
                )
            time.sleep(interval)
            task = client.task(task["task_id"])
    finally:
        progress.finish()


def result_name(task: dict[str, Any], source: Path | str) -> str:
    """Where a result is saved by default: the source's name (or image id), the function, the result's extension."""
    disposition = unquote(urlsplit(task["result_url"]).query)
    found = re.search(r'filename="?[^";]*?(\.[A-Za-z0-9]+)"?', disposition)
    extension = found.group(1) if found else ""
    stem = source.stem if isinstance(source, Path) else source
    return f"{stem}.{task['function_type']}{extension}"


def source_of(text: str) -> Path | str:
    """``run``'s SOURCE: a file to upload if there is one by that name, else an image id already stored."""
    path = Path(text)
    if path.exists() or not IMAGE_ID.match(text):
        return path
    return text


def save_result(client: Client, task: dict[str, Any], out: Path | None, source: Path | str) -> Path:
    """Download a done task's result to ``out`` (a file, or a folder), by default named after ``source``."""
    target = out or Path(result_name(task, source))
    if target.is_dir():
        target = target / result_name(task, source)
    client.download(task["result_url"], target)
    return target


def _print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2) + "\n")


def cmd_upload(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    out.write(client.upload(args.file, args.content_type) + "\n")
    return 0


def cmd_run(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    function_args = dict(args.args_json or {})
    function_args.update(dict(args.arg or []))
    source = source_of(args.source)
    image_id = client.upload(source, args.content_type) if isinstance(source, Path) else source
    task = client.create_task(image_id, args.function, function_args)
    task = wait(client, task, timeout=args.timeout, interval=args.interval, out=sys.stderr)
    if task["status"] != "done":
        error = task.get("error") or {}
        sys.stderr.write(
            f"task {task['task_id']} {task['status']}: {error.get('code', '')}: {error.get('message', '')}\n"
        )
        return 1
    target = save_result(client, task, args.out, source)
    out.write(f"{target}  ({target.stat().st_size} bytes, task {task['task_id']}, {task.get('duration')} s)\n")
    return 0


def cmd_download(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    task = client.task(args.task_id)
    if task["status"] != "done":
        raise ValueError(f"task {task['task_id']} is {task['status']}: only a done task has a result")
    target = save_result(client, task, args.out, task["image_id"])
    out.write(f"{target}  ({target.stat().st_size} bytes)\n")
    return 0


def cmd_tasks(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    tasks = client.tasks(status=args.status, image_id=args.image_id, limit=min(args.limit, 100))
    shown = []
    for task in tasks:
        shown.append(task)
        if len(shown) >= args.limit:
            break
    if args.json:
        _print_json(shown, out)
        return 0
    for task in shown:
        out.write(
            f"{task['task_id']}  {task['status']:<10} {task.get('progress') or 0:3d}%  "
            f"{task['function_type']:<22} {task['created_at']}\n"
        )
    return 0


def cmd_task(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    task = client.task(args.task_id)
    if args.wait:
        task = wait(client, task, timeout=args.timeout, interval=args.interval, out=sys.stderr)
    _print_json(task, out)
    return 0


def cmd_functions(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    catalog = client.functions()
    if args.json:
        _print_json(catalog, out)
        return 0
    width = max((len(entry["name"]) for entry in catalog), default=0)
    for entry in catalog:
        arguments = ", ".join(entry.get("arguments", {}).get("properties", {}))
        out.write(f"{entry['name']:<{width}}  {entry.get('description', '')}\n")
        if arguments:
            out.write(f"{'':<{width}}  arguments: {arguments}\n")
    return 0


def cmd_url(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    steps = [{"function_type": args.function, "function_args": dict(args.arg or [])}]
    if args.format:
        steps.append({"function_type": "convert", "function_args": {"format": args.format}})
    signed = client.sign_url(args.image_id, steps, args.expires_in)
    if args.json:
        _print_json(signed, out)
    else:
        out.write(signed["url"] + "\n")
    return 0


def cmd_cancel(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    client.cancel(args.task_id)
    out.write(f"task {args.task_id} cancelled and deleted\n")
    return 0


def _add_arg_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--arg/-a NAME=VALUE``, repeatable: a function's arguments."""
    parser.add_argument("--arg", "-a", type=parse_arg, action="append", metavar="NAME=VALUE", help=help_text)


def build_parser() -> argparse.ArgumentParser:
    """The command line: global options and one subcommand per action."""
    parser = argparse.ArgumentParser(
        prog="pixelmill",
        description=(
            "Upload images and run pixelmill functions on them. Calls are signed with AWS SigV4 from the "
            "standard credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, roles)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--api",
        default=os.environ.get("PIXELMILL_API", DEFAULT_API),
        help=f"the API's base URL (default: $PIXELMILL_API or {DEFAULT_API}, the local stack)",
    )
    parser.add_argument("--profile", help="the AWS profile to sign with (default: $AWS_PROFILE or the default chain)")
    parser.add_argument(
        "--region", help="the API's region (default: $AWS_REGION, the profile's, the API URL's, or us-east-1)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    upload = commands.add_parser("upload", help="upload an image; prints its image id")
    upload.add_argument("file", type=Path)
    upload.add_argument("--content-type", help="the file's type (default: from its name)")
    upload.set_defaults(handler=cmd_upload)

    run = commands.add_parser(
        "run",
        help="run FUNCTION on SOURCE (a file, uploaded first, or an image id) with a progress bar, download the result",
    )
    run.add_argument(
        "source", metavar="SOURCE", help="a file to upload, or the id of an image or result already stored"
    )
    run.add_argument("function", help="a function of the catalog (see `pixelmill functions`)")
    _add_arg_option(run, "a function argument (repeatable); values are JSON when they parse as JSON")
    run.add_argument("--args-json", type=json.loads, metavar="JSON", help="all function arguments as one JSON object")
    run.add_argument(
        "--out",
        "-o",
        type=Path,
        help="where to save the result (default: next to the current folder, named after the source)",
    )
    run.add_argument("--content-type", help="the file's type (default: from its name)")
    run.add_argument("--timeout", type=float, default=600, help="seconds to wait for the task (default 600)")
    run.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    run.set_defaults(handler=cmd_run)

    tasks = commands.add_parser("tasks", help="list tasks, newest first")
    tasks.add_argument("--status", choices=["new", "queued", "processing", "done", "failed", "cancelled"])
    tasks.add_argument("--image-id")
    tasks.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    tasks.add_argument("--json", action="store_true", help="print JSON")
    tasks.set_defaults(handler=cmd_tasks)

    task = commands.add_parser("task", help="show one task as JSON")
    task.add_argument("task_id")
    task.add_argument("--wait", action="store_true", help="wait until it finishes, with a progress bar")
    task.add_argument("--timeout", type=float, default=600)
    task.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    task.set_defaults(handler=cmd_task)

    functions = commands.add_parser("functions", help="list the function catalog")
    functions.add_argument("--json", action="store_true", help="print the catalog with each JSON Schema")
    functions.set_defaults(handler=cmd_functions)

    download = commands.add_parser("download", help="save a done task's result")
    download.add_argument("task_id")
    download.add_argument("--out", "-o", type=Path, help="file or folder (default: named after the task's image)")
    download.set_defaults(handler=cmd_download)

    url = commands.add_parser(
        "url",
        help="sign an image URL that renders FUNCTION on IMAGE_ID on the fly (for an <img src>); prints it",
        description="The API signs it (the signing key never leaves AWS). Only photo functions; "
        "see `pixelmill functions --json` (usable_in_urls).",
    )
    url.add_argument("image_id", metavar="IMAGE_ID")
    url.add_argument("function", help="a photo function of the catalog, e.g. resize")
    _add_arg_option(url, "a function argument (repeatable): numbers, booleans and strings")
    url.add_argument(
        "--format",
        choices=["auto", "jpeg", "png", "webp", "avif", "tiff", "gif"],
        help="then convert to this format; auto picks AVIF, WebP or JPEG from the browser's Accept header",
    )
    url.add_argument("--expires-in", type=int, metavar="SECONDS", help="the URL stops working after this long")
    url.add_argument("--json", action="store_true", help="print the API's answer (url, path, expires_at)")
    url.set_defaults(handler=cmd_url)

    cancel = commands.add_parser("cancel", help="cancel a task that has not finished, and delete it with its result")
    cancel.add_argument("task_id")
    cancel.set_defaults(handler=cmd_cancel)

    # The admin actions' common options, accepted after the action (`pixelmill admin rerun --local`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--stack",
        default=os.environ.get("PIXELMILL_STACK", "pixelmill"),
        help="the stack's name, whose outputs name its resources (default: $PIXELMILL_STACK or pixelmill)",
    )
    common.add_argument(
        "--local",
        action="store_true",
        help="the local stack (make dev): its emulator at $AWS_ENDPOINT_URL or http://127.0.0.1:5005, any credentials",
    )
    common.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    common.add_argument("--limit", type=int, default=100, help="at most this many messages or tasks (default 100)")

    operator = commands.add_parser(
        "admin",
        help="operator commands on the stack's AWS resources (not the API): redrive a dead-letter queue, re-run failed tasks",
        description="Act on the stack's resources directly with your AWS credentials (boto3's usual chain). "
        "See docs/runbook.md.",
    )
    actions = operator.add_subparsers(dest="action", required=True)
    redrive = actions.add_parser("redrive", parents=[common], help="redrive a dead-letter queue")
    redrive.add_argument(
        "queue",
        choices=["tasks", "uploads"],
        help="tasks: TaskDeadLetterQueue (each task runs again); uploads: IngestDeadLetterQueue (each upload is announced again)",
    )
    rerun = actions.add_parser("rerun", parents=[common], help="run failed tasks again (the same task ids)")
    rerun.add_argument("task_ids", nargs="*", metavar="TASK_ID", help="these tasks (default: the newest failed ones)")
    rerun.add_argument("--code", help="only tasks that failed with this error code (e.g. retries_exhausted)")
    rerun.add_argument(
        "--since", type=_timestamp, help="only tasks created at or after this time (ISO 8601, e.g. 2026-12-01T09:00Z)"
    )
    return parser


def _timestamp(text: str) -> datetime:
    """An ISO 8601 time; UTC unless it says otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; API problems, unreachable servers and bad files end with a message and status 1."""
    args = build_parser().parse_args(argv)
    if args.command == "admin":  # the stack's AWS resources, not the API: no API client, no signer
        from pixelmill_cli import admin  # boto3 is imported only by the operator's commands

        return admin.run(args, out or sys.stdout)
    try:
        client = Client(args.api, auth=signer(args.api, profile=args.profile, region=args.region))
        status: int = args.handler(client, args, out or sys.stdout)
    except ApiError as error:
        sys.stderr.write(f"error: {error.describe()}\n")
        return 1
    except NoCredentials as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    except Unreachable as error:
        hint = " Is the local stack running (`make dev`)?" if args.api == DEFAULT_API else ""
        sys.stderr.write(f"error: {error}.{hint}\n")
        return 1
    except (OSError, ValueError, TimeoutError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return status


def _version() -> str:
    try:
        return version("pixelmill")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"
