"""Running the project's aws-sam-cli, which lives in its own virtualenv (.build/sam-venv)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infrastructure.sam_template import REPO_ROOT, Template

SAM = REPO_ROOT / ".build" / "sam-venv" / "bin" / "sam"

# Numbers worth seeing after a run (build time, sizes): conftest prints them in the terminal summary.
MEASURED: dict[str, str] = {}


def _sam_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", **(extra or {}))
    # Under `make test` these would leak the outer make's flags into the make that sam runs.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    return env


def run_sam(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``sam *args`` from the repository root; fails the test if sam is not installed."""
    if not SAM.exists():
        pytest.fail(
            f"{SAM} is missing: `make sam-install` (or `make infra-tests`) creates it from requirements/sam.txt"
        )
    return subprocess.run(
        [str(SAM), *args],
        cwd=REPO_ROOT,
        env=_sam_environment(env),
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
    architecture: str = "x86_64"
