"""cfn-lint and ``sam validate --lint`` pass on template.yaml, warnings included; and what
they miss: a dependency cycle that only the SAM transform reveals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infrastructure.sam_cli import run_sam
from tests.infrastructure.sam_template import REPO_ROOT, TEMPLATE_PATH, as_list

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


def _references(value: Any) -> set[str]:
    """Every logical id or parameter ``value`` refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found.update(name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One dependency cycle of ``graph`` (each node → what it depends on), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        for dependency in sorted(graph[node]):
            if dependency in path:
                return [*path[path.index(dependency) :], dependency]
            if dependency not in done:
                found = visit(dependency, [*path, dependency])
                if found:
                    return found
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_transformed_template_has_no_dependency_cycle(translated: dict[str, Any]) -> None:
    # Given the template as CloudFormation gets it after the SAM transform (cfn-lint and
    # `sam validate --lint` do not see the cycle an S3 event can make: bucket notification →
    # function permission → function → role → bucket)
    resources: dict[str, Any] = translated["Resources"]
    assert "IngestFunctionUploadPermission" in resources  # the S3 event was translated
    graph = {
        logical_id: {
            target
            for target in _references(resource.get("Properties", {})) | set(as_list(resource.get("DependsOn", [])))
            if target in resources
        }
        for logical_id, resource in resources.items()
    }

    # Then no resource waits, through others, for itself
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])
