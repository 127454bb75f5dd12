"""End-to-end fixtures: the local stack started as a subprocess on free ports, reached over real HTTP,
by IAM users of its emulator who sign their calls as they would sign them on AWS."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.credentials import Credentials

from pixelmill_cli.client import SigV4

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
VISIBILITY = 10
"""TaskVisibilitySeconds of the shared stack."""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


REGION = "us-east-1"


@dataclass(frozen=True)
class Caller:
    """An IAM user of the emulator: its name, unique id (its tenant) and access key."""

    name: str
    user_id: str
    access_key_id: str
    secret_access_key: str

    def session(self) -> requests.Session:
        """A requests session whose every call is signed with SigV4 as this user (as the CLI signs)."""
        session = requests.Session()
        session.auth = SigV4(Credentials(self.access_key_id, self.secret_access_key), REGION)
        return session

    def environment(self) -> dict[str, str]:
        """The variables that make AWS tools and the CLI act as this user."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": REGION,
        }


@dataclass
class RunningStack:
    """A local stack in a subprocess: its URLs, its log, clients of its emulator.

    ``session`` calls the API as ``alice``, an IAM user made when the stack starts.
    """

    process: subprocess.Popen[str]
    api_port: int
    aws_port: int
    log_path: Path
    data_dir: Path | None = None
    session: requests.Session = field(default_factory=requests.Session)
    alice: Caller | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def client(self, service: str, caller: Caller | None = None) -> Any:
        """A boto3 client of the stack's emulator: as ``caller``, or as an operator with AWS access."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.aws_endpoint,
            region_name=REGION,
            aws_access_key_id=caller.access_key_id if caller else "local",
            aws_secret_access_key=caller.secret_access_key if caller else "local",
        )

    def new_caller(self, name: str) -> Caller:
        """A new IAM user ``name`` with an access key, made on the emulator (`aws iam create-user` …)."""
        iam = self.client("iam")
        user = iam.create_user(UserName=name)["User"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Caller(name, user["UserId"], key["AccessKeyId"], key["SecretAccessKey"])

    def banner_caller(self) -> Caller:
        """The user whose keys `make dev` prints, read from its banner as a person copies them."""
        exported = dict(re.findall(r"(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=(\S+)", self.log()))
        user = self.client("iam").get_user(UserName="pixelmill-dev")["User"]
        return Caller("pixelmill-dev", user["UserId"], exported["AWS_ACCESS_KEY_ID"], exported["AWS_SECRET_ACCESS_KEY"])

    def act_as(self, caller: Caller) -> None:
        """Make ``session`` call as ``caller``."""
        self.alice = caller
        self.session = caller.session()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def archived_upload(stack: RunningStack, data: bytes) -> str:
    """An image of ``stack``'s caller whose bytes cannot be read back (archived to Glacier:
    every GET is refused, so every delivery of its task fails); its image id."""
    started = stack.session.post(f"{stack.api}/images/", json={"content_type": "image/jpeg"}, timeout=30)
    image_id: str = started.json()["image_id"]
    bucket = started.json()["upload"]["url"].rstrip("/").rsplit("/", 1)[-1]
    assert stack.alice is not None
    key = f"uploads/{stack.alice.user_id}/{image_id}"
    stack.client("s3").put_object(Bucket=bucket, Key=key, Body=data, StorageClass="GLACIER")
    return image_id


@contextmanager
def redelivered_at_once(stack: RunningStack) -> Iterator[Any]:
    """TaskQueue redelivers a failed message at once (the template's visibility timeout is 300 s,
    the retry delay the worker gives a failed delivery), as an operator could set it; the SQS
    client is yielded."""
    sqs = stack.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="pixelmill-taskqueue")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})
    time.sleep(3)  # a long poll already waiting took the old timeout with it (2 s polls)
    try:
        yield sqs
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "300"})


def start_stack(
    log_path: Path,
    *extra: str,
    api_port: int | None = None,
    aws_port: int | None = None,
    caller: Caller | None = None,
) -> RunningStack:
    """``python -m infra.local`` (what `make dev` runs) on free ports; returns once the API answers,
    with ``session`` signed by ``caller`` (by default a new IAM user, alice)."""
    api_port = api_port or free_port()
    aws_port = aws_port or free_port()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/shared"), str(ROOT)])}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        environment.pop(name, None)
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--api-port", str(api_port), "--aws-port", str(aws_port), *extra],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = RunningStack(process, api_port, aws_port, log_path)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited with {process.returncode}:\n{stack.log()}")
        try:
            if requests.get(f"{stack.api}/openapi.json", timeout=5).status_code == 200:
                stack.act_as(caller or stack.new_caller("alice"))
                return stack
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    stack.stop()
    raise RuntimeError(f"the local stack did not answer in {START_TIMEOUT_SECONDS} s:\n{stack.log()}")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # A short visibility (the default is a minute) so that a killed worker's batch comes back quickly.
    stack = start_stack(
        tmp_path_factory.mktemp("stack") / "stack.log", "--parameter-overrides", f"TaskVisibilitySeconds={VISIBILITY}"
    )
    yield stack
    status = stack.stop()
    assert status == 0, stack.log()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach the stack's log to the report (what the functions said)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and "local_stack" in getattr(item, "funcargs", {}):
        stack: RunningStack = item.funcargs["local_stack"]  # type: ignore[attr-defined]
        report.sections.append(("local stack log (last 150 lines)", "\n".join(stack.log().splitlines()[-150:])))
