"""Fixtures of the infrastructure tests: the parsed template and one real ``sam build``."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest

from tests.infrastructure.sam_cli import MEASURED, SAM, SamBuild, run_sam
from tests.infrastructure.sam_template import REPO_ROOT, TEMPLATE_PATH, Template, load_template


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs sam or cfn-lint in a subprocess (seconds; needs .build/sam-venv)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASURED:
        terminalreporter.section("infrastructure measurements")
        for name, value in MEASURED.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def template() -> Template:
    """template.yaml, parsed once."""
    return load_template()


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """``sam build`` of template.yaml into a temporary directory, once per session.

    No Docker and no local python3.13: every function and layer uses BuildMethod
    makefile, and the dependency layer asks pip for cp313 manylinux wheels (from PyPI).
    """
    root = tmp_path_factory.mktemp("sam")
    build_dir = root / "build"
    started = time.monotonic()
    result = run_sam(
        "build",
        "--template-file",
        str(TEMPLATE_PATH),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(root / "cache"),
        timeout=600,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, f"sam build failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    MEASURED["sam build"] = f"{seconds:.1f} s"
    return SamBuild(directory=build_dir, template=load_template(build_dir / "template.yaml"), seconds=seconds)


@pytest.fixture(scope="session")
def translated() -> dict[str, Any]:
    """template.yaml as CloudFormation gets it after the SAM transform (aws-sam-translator, in sam-venv)."""
    sam_python = SAM.parent / "python"
    assert sam_python.exists(), f"{sam_python} is missing: `make sam-install`"
    result = subprocess.run(
        [str(sam_python), "-m", "tests.infrastructure.sam_translate", str(TEMPLATE_PATH)],
        cwd=REPO_ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    document: dict[str, Any] = json.loads(result.stdout)
    return document
