"""The one table from exceptions to HTTP problems (RFC 9457 problem+json)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pixelmill.errors import FieldError, InvalidRequest, NotFound, PixelmillError, QueueUnavailable

PROBLEM_CONTENT_TYPE = "application/problem+json"

# The seed's codes: 400 for bad parameters, 404 for unknown ids, 500 for the rest.
STATUS_BY_ERROR: dict[type[PixelmillError], HTTPStatus] = {
    InvalidRequest: HTTPStatus.BAD_REQUEST,
    NotFound: HTTPStatus.NOT_FOUND,
    QueueUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def status_of(error: PixelmillError) -> HTTPStatus:
    """The HTTP status for a domain error (500 for anything not in the table)."""
    for error_type, status in STATUS_BY_ERROR.items():
        if isinstance(error, error_type):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def problem(status: HTTPStatus, detail: str, code: str, errors: list[FieldError] | None = None) -> dict[str, Any]:
    """A problem document: type, title, status, detail and one entry per bad field."""
    body: dict[str, Any] = {
        "type": f"urn:pixelmill:problem:{code}",
        "title": status.phrase,
        "status": status.value,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"field": error.field, "message": error.message} for error in errors]
    return body
