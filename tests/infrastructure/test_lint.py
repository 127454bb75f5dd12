"""cfn-lint and ``sam validate --lint`` pass on template.yaml, warnings included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infrastructure.sam_cli import run_sam
from tests.infrastructure.sam_template import REPO_ROOT, TEMPLATE_PATH

pytestmark = pytest.mark.slow


def _cfn_lint() -> Path:
    # The dev environment's cfn-lint, next to the interpreter running the tests.
    return Path(sys.executable).parent / "cfn-lint"


def test_cfn_lint_is_clean() -> None:
    # When cfn-lint checks the template (errors, warnings and informational findings)
    result = subprocess.run(
        [str(_cfn_lint()), "--include-checks", "I", "--", str(TEMPLATE_PATH)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it finds nothing
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_sam_validate_lint_is_clean() -> None:
    # When SAM validates the template with its linter (no region, credentials or network needed)
    result = run_sam("validate", "--lint", "--template-file", str(TEMPLATE_PATH))
    # Then it is valid
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
