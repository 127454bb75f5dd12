"""Write (or check) docs/openapi.json, the API's OpenAPI document as ApiFunction serves it.

``python -m infra.openapi`` rewrites it; ``--check`` fails when the committed
document is stale (run by ``make test`` through tests/unit/test_openapi_document.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"


def generate() -> str:
    """The document ApiFunction serves at /api/openapi.json (servers aside)."""
    spec = importlib.util.spec_from_file_location("pixelmill_api_for_openapi", ROOT / "functions" / "api" / "app.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("functions/api/app.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document: str = module.openapi_json()
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is stale")
    arguments = parser.parse_args()
    document = generate()
    if arguments.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != document:
            sys.stderr.write("docs/openapi.json is stale: run `make openapi` and commit it\n")
            return 1
        return 0
    DOCUMENT.write_text(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
