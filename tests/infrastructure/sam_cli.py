"""Running the project's aws-sam-cli, which lives in its own virtualenv (.build/sam-venv)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infrastructure.sam_template import REPO_ROOT, TEMPLATE_PATH, Template

SAM = REPO_ROOT / ".build" / "sam-venv" / "bin" / "sam"

# Numbers worth seeing after a run (build time, sizes): conftest prints them in the terminal summary.
MEASURED: dict[str, str] = {}


def _sam_environment() -> dict[str, str]:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    # Under `make test` these would leak the outer make's flags into the make that sam runs.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    return env


def run_sam(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``sam *args`` from the repository root; fails the test if sam is not installed."""
    if not SAM.exists():
        pytest.fail(
            f"{SAM} is missing: `make sam-install` (or `make infra-tests`) creates it from requirements/sam.txt"
        )
    return subprocess.run(
        [str(SAM), *args],
        cwd=REPO_ROOT,
        env=_sam_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class SamBuild:
    """The output of one ``sam build``: its directory and the template it wrote there."""

    directory: Path
    template: Template
    seconds: float


def translate_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """``path`` as CloudFormation gets it after the SAM transform (tests/infrastructure/sam_translate.py,
    run by aws-sam-cli's interpreter, where the transform lives)."""
    sam_python = SAM.parent / "python"
    assert sam_python.exists(), f"{sam_python} is missing: `make sam-install`"
    result = subprocess.run(
        [str(sam_python), "-m", "tests.infrastructure.sam_translate", str(path)],
        cwd=REPO_ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    translated: dict[str, Any] = json.loads(result.stdout)
    return translated
