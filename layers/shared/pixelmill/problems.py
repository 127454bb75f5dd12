"""The one table from exceptions to HTTP problems (RFC 9457 problem+json),
and the same problems described in the OpenAPI document."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field

from pixelmill.errors import (
    FieldError,
    Forbidden,
    ImageTooLarge,
    InvalidRequest,
    NotFound,
    PixelmillError,
    ProcessingError,
    QueueUnavailable,
    QuotaExceeded,
    ResponseTooLarge,
    StoreUnavailable,
    UnsupportedImage,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# The seed's codes: 400 for bad parameters, 404 for unknown ids, 500 for the rest.
STATUS_BY_ERROR: dict[type[PixelmillError], HTTPStatus] = {
    InvalidRequest: HTTPStatus.BAD_REQUEST,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    QuotaExceeded: HTTPStatus.TOO_MANY_REQUESTS,
    QueueUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    StoreUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    # Rendering an image URL (the worker turns these into a failed task instead).
    ResponseTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedImage: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    ImageTooLarge: HTTPStatus.UNPROCESSABLE_ENTITY,
    ProcessingError: HTTPStatus.UNPROCESSABLE_ENTITY,
}


class ProblemField(BaseModel):
    """One bad field: its dotted path (``function_args.width``) and what is wrong."""

    field: str = Field(examples=["function_args.width"])
    message: str = Field(examples=["Input should be greater than or equal to 1"])


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["urn:pixelmill:problem:invalid_request"])
    title: str = Field(examples=["Bad Request"])
    status: int = Field(examples=[400])
    detail: str = Field(examples=["function_args.width: Input should be greater than or equal to 1"])
    errors: list[ProblemField] | None = Field(default=None, description="One entry per bad field (400 only).")


def status_of(error: PixelmillError) -> HTTPStatus:
    """The HTTP status for a domain error (500 for anything not in the table)."""
    for error_type, status in STATUS_BY_ERROR.items():
        if isinstance(error, error_type):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def problem(status: HTTPStatus, detail: str, code: str, errors: list[FieldError] | None = None) -> Problem:
    """A problem document: type, title, status, detail and one entry per bad field."""
    return Problem(
        type=f"urn:pixelmill:problem:{code}",
        title=status.phrase,
        status=status.value,
        detail=detail,
        errors=None if errors is None else [ProblemField(field=e.field, message=e.message) for e in errors],
    )


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """``openapi`` with our error responses: 400/403/404/500 problem+json instead of the
    resolver's generic 422, and 204 for DELETE (its handler returns no body); every
    operation signed with AWS SigV4 (IAM)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    for name, schema in Problem.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs").items():
        schemas[name] = schema
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["Problem"].pop("$defs", None)
    # API Gateway's own way of saying "signed with SigV4": every documented route needs it.
    openapi["components"]["securitySchemes"] = {
        "sigv4": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4",
            "description": "AWS Signature Version 4 for the service execute-api, by an IAM principal allowed to invoke it.",
        }
    }
    openapi["security"] = [{"sigv4": []}]

    def response(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }

    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if method == "delete":
                responses.pop("200", None)
                responses["204"] = {"description": "Deleted"}
            responses["403"] = response(
                "Not signed, badly signed, or not allowed (API Gateway's IAM authorization, as problem+json)"
            )
            if operation.get("parameters") or operation.get("requestBody"):
                responses["400"] = response("Bad parameters: `errors` names each bad field")
            if operation.get("requestBody"):
                responses["415"] = response("A body that is not application/json")
            if "{" in path:
                responses["404"] = response("No such resource")
            if (method, path) == ("post", "/api/tasks"):
                responses["429"] = response(
                    "The caller has as many unfinished tasks as allowed: nothing was created; retry after Retry-After"
                )
                responses["503"] = response("The task could not be queued; nothing was created, retry")
            if (method, path) == ("post", "/api/urls"):
                responses["404"] = response("No image of the caller's with this id")
            responses["500"] = response("Anything else (logged; never a stack trace)")
    return openapi
