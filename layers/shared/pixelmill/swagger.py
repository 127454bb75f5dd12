"""Swagger UI for /api/docs, with its script and styles inlined (no CDN needed)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html


@cache
def _assets() -> tuple[str, str]:
    folder = Path(swagger_ui.__file__).parent
    return (
        (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (folder / "swagger-ui.min.css").read_text(encoding="utf-8"),
    )


def swagger_html(openapi_json: str) -> str:
    """The Swagger UI page for ``openapi_json``, the document embedded."""
    script, styles = _assets()
    # "</" inside the embedded JSON must not close the page's <script>.
    return generate_swagger_html(openapi_json.replace("</", "<\\/"), script, styles, "", None)
