"""checkov finds nothing on the template CloudFormation gets (after the SAM transform): every
check passes or is skipped in template.yaml, next to its resource, with a written reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infrastructure.sam_template import REPO_ROOT, Template

pytestmark = pytest.mark.slow

# checkov pins its own boto3: it lives in its own virtualenv (requirements/checkov.txt).
CHECKOV = REPO_ROOT / ".build" / "checkov-venv" / "bin" / "checkov"


def _checkov(path: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make checkov-install` (or `make infra-tests`) creates it")
    result = subprocess.run(
        [str(CHECKOV), "--file", str(path), "--framework", "cloudformation", "--quiet", "--output", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout.strip(), result.stderr[-5000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_checkov_passes_on_the_translated_template(translated: dict[str, Any], tmp_path: Path) -> None:
    # Given the template after the SAM transform (roles, stage, permissions as deployed)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(translated))

    # When checkov checks it
    report = _checkov(path)

    # Then nothing fails and it did check: the functions, their roles, the bucket, the queues
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert failed == [], "\n".join(map(str, failed))
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 50
    assert summary["resource_count"] >= 30


def test_every_checkov_skip_says_why(template: Template) -> None:
    skips = [
        (name, skip)
        for name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert str(skip["id"]).startswith(("CKV_", "CKV2_")), name  # CKV2_: checks across resources
        assert len(str(skip.get("comment", "")).split()) >= 8, f"{name} skips {skip['id']} without a reason"
