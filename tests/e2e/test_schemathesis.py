"""Schemathesis against the API's own OpenAPI document, on the local stack, signed as an IAM user.

A bounded, reproducible run of the schemathesis CLI (a fixed seed, a fixed number of examples
per operation): its examples, coverage (boundary values, wrong types, bodies that
are not JSON or not UTF-8, undeclared methods), fuzzing and stateful phases. No request may get
a 5xx, and every answer must match the document: status code, content type, headers, body.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.e2e.conftest import ROOT, RunningStack

SEED = 20261201
EXAMPLES_PER_OPERATION = 30
# The run is bounded by its examples (about a minute); --max-time would make fuzzing run until it.
MAX_SECONDS = 300
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(local_stack: RunningStack, tmp_path: Path) -> None:
    # Given an IAM user of the emulator to sign the requests with, whose signature the gateway accepts
    caller = local_stack.new_caller("schemathesis")
    assert caller.session().get(f"{local_stack.api}/tasks/", timeout=30).status_code == 200
    assert requests.get(f"{local_stack.api}/tasks/", timeout=30).status_code == 403  # unsigned

    # When schemathesis runs against the document the API serves
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{local_stack.api}/openapi.json",
            "--url",
            local_stack.api.removesuffix("/api"),
            "--checks",
            ",".join(CHECKS),
            "--seed",
            str(SEED),
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--no-shrink",
            "--workers",
            "1",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
            "PYTHONPATH": str(ROOT),
            **caller.environment(),
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS,
        check=False,
    )

    # Then every generated request passed every check
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-15000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts, output[-3000:]
    generated, passed = int(counts.group(1)), int(counts.group(2))
    assert generated == passed
    assert generated >= 300, output[-3000:]  # it did run: about 80 per operation, in four phases
