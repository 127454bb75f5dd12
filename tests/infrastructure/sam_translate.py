"""Print template.yaml as CloudFormation sees it after the SAM transform (JSON on stdout).

Run with aws-sam-cli's interpreter (``.build/sam-venv/bin/python -m tests.infrastructure.sam_translate``):
the transform (aws-sam-translator) lives there, not in the dev environment. Local
``CodeUri``/``ContentUri`` paths become placeholder S3 URIs, as ``sam package`` would make them.

SAM keeps a function's ``Metadata`` (checkov reads its skips there) but not an API's: the
checkov skips of each ``AWS::Serverless::*`` resource are carried to the resources SAM
generates for it (``Api`` → ``Apiv1Stage``, ``ApiDeployment…``), so they are declared once,
in template.yaml, next to the resource they are about.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform  # type: ignore[import-not-found]  # only in sam-venv

from infra.template import TEMPLATE_PATH, load_template


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for policies named by name; we name none."""

    def load(self) -> dict[str, str]:
        return {}


def translate(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The transformed template."""
    template = load_template(path)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(name), str):
                properties[name] = f"s3://placeholder-bucket/{resource['Type'].rsplit('::', 1)[-1]}.zip"
    result: dict[str, Any] = transform(template, {}, _NoManagedPolicies())
    _carry_checkov_skips(template["Resources"], result["Resources"])
    return result


def _carry_checkov_skips(source: dict[str, Any], translated: dict[str, Any]) -> None:
    """Each generated resource gets the checkov skips of the SAM resource whose id prefixes its own."""
    owners = sorted((n for n, r in source.items() if r["Type"].startswith("AWS::Serverless::")), key=len, reverse=True)
    for name, resource in translated.items():
        owner = next((o for o in owners if name.startswith(o)), None) if name not in source else None
        skips = source[owner].get("Metadata", {}).get("checkov", {}).get("skip", []) if owner else []
        if skips:
            known = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
            known.extend(skip for skip in skips if skip not in known)


if __name__ == "__main__":
    json.dump(translate(Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE_PATH), sys.stdout)
