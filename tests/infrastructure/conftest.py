"""Fixtures of the infrastructure tests: the parsed template and one real ``sam build``."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
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


def _sam_build(root: Path, architecture: str) -> SamBuild:
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
        "--parameter-overrides",
        f"Architecture={architecture}",
        timeout=600,
        # The layers' Makefiles read it (sam's makefile builder passes no architecture on).
        env={"ARCHITECTURE": architecture},
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, f"sam build failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    MEASURED[f"sam build ({architecture})"] = f"{seconds:.1f} s"
    template = load_template(build_dir / "template.yaml")
    return SamBuild(directory=build_dir, template=template, seconds=seconds, architecture=architecture)


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """``sam build`` of template.yaml into a temporary directory, once per session (x86_64, the default).

    No Docker and no local python3.13: every function and layer uses BuildMethod
    makefile, and the library layers ask pip for cp313 manylinux wheels (from PyPI).
    """
    return _sam_build(tmp_path_factory.mktemp("sam"), "x86_64")


@pytest.fixture(scope="session")
def sam_build_arm64(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """The same for the template's other Architecture, arm64 (Graviton), from aarch64 wheels."""
    return _sam_build(tmp_path_factory.mktemp("sam-arm64"), "arm64")


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
