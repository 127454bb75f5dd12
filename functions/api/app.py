"""pixelmill's HTTP API: upload images, create tasks and poll them until the result is in S3.

ApiFunction: API Gateway REST proxy events → powertools routes.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from pixelmill.catalog import FunctionInfo, registry
from pixelmill.catalog.openapi import with_typed_tasks
from pixelmill.dal import get_stores
from pixelmill.errors import FieldError, Forbidden, PixelmillError, QuotaExceeded
from pixelmill.logic import image_urls, images, tasks
from pixelmill.models.ids import IMAGE_ID_PATTERN, TASK_ID_PATTERN
from pixelmill.models.image import ImagePublic, ImageUpload, ImageUploadCreate
from pixelmill.models.image_url import ImageUrl, ImageUrlCreate, image_url_openapi
from pixelmill.models.task import TaskCreate, TaskPublic, TaskStatus
from pixelmill.models.tenant import tenant_of_principal
from pixelmill.observability import logger, publish_metrics, tracer, unbind_task
from pixelmill.problems import PROBLEM_CONTENT_TYPE, document_problems, problem, status_of
from pixelmill.settings import get_settings
from pixelmill.swagger import swagger_html

# No body of ours nests deeper than a few levels (a MultiPolygon to clip by is the deepest, at 7);
# deeper ones are refused before anything walks them.
MAX_JSON_DEPTH = 32
JSON_MEDIA_TYPE = "application/json"


def _parse_json(text: str) -> Any:
    """json.loads whose every failure is a JSONDecodeError (a 400): Python's ValueError for an
    integer of more than 4300 digits, its RecursionError for deep nesting, and nesting deeper
    than MAX_JSON_DEPTH."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", text, 0) from None
    except ValueError as error:
        raise json.JSONDecodeError(str(error), text, 0) from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", text, 0)
    return data


def _depth(data: Any) -> int:
    """How deeply ``data`` nests arrays and objects (iteratively: it may be deeper than the stack)."""
    deepest, pending = 0, [(data, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                pending.extend((item, level + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


CORS = CORSConfig(allow_origin=get_settings().allowed_origin, max_age=600)
app = APIGatewayRestResolver(enable_validation=True, cors=CORS, json_body_deserializer=_parse_json)

TaskIdPath = Annotated[str, Path(pattern=TASK_ID_PATTERN)]
ImageIdPath = Annotated[str, Path(pattern=IMAGE_ID_PATTERN)]


def caller() -> str:
    """The tenant of the caller, from the identity API Gateway's IAM authorization puts in the event."""
    principal = app.current_event.request_context.identity.user
    tenant = tenant_of_principal(principal)
    if tenant is None:
        raise Forbidden("this principal cannot own images or tasks: call as an IAM user or role")
    return tenant


@app.post("/api/images", summary="Start an upload", tags=["images"])
def create_upload(request: ImageUploadCreate) -> ImageUpload:
    return images.create_upload(request, caller(), get_stores(), get_settings())


@app.get("/api/images/<image_id>", summary="Image metadata and a download URL", tags=["images"])
def get_image(image_id: ImageIdPath) -> ImagePublic:
    return images.get_image(image_id, caller(), get_stores(), get_settings())


@app.post("/api/tasks", summary="Create a task", tags=["tasks"])
def create_task(request: TaskCreate) -> TaskPublic:
    return tasks.create_task(request, caller(), get_stores(), get_settings())


@app.get("/api/tasks", summary="List tasks, newest first", tags=["tasks"])
def list_tasks(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    status: Annotated[TaskStatus | None, Query()] = None,
    image_id: Annotated[str | None, Query(pattern=IMAGE_ID_PATTERN)] = None,
) -> Response[list[dict[str, Any]]]:
    page = tasks.list_tasks(
        caller(), get_stores(), get_settings(), limit=limit, cursor=cursor, status=status, image_id=image_id
    )
    headers: dict[str, str] = {}
    if page.cursor:
        query = {"limit": limit, "cursor": page.cursor, "status": status, "image_id": image_id}
        headers["Link"] = f'<{_request_url()}?{urlencode({k: v for k, v in query.items() if v})}>; rel="next"'
    return Response(
        status_code=HTTPStatus.OK,
        content_type="application/json",
        body=[task.model_dump(mode="json") for task in page.tasks],
        headers=headers,
    )


@app.get("/api/tasks/<task_id>", summary="One task", tags=["tasks"])
def get_task(task_id: TaskIdPath) -> TaskPublic:
    return tasks.get_task(task_id, caller(), get_stores(), get_settings())


@app.delete("/api/tasks/<task_id>", summary="Cancel and delete a task with its result", tags=["tasks"])
def delete_task(task_id: TaskIdPath) -> Response[None]:
    tasks.delete_task(task_id, caller(), get_stores())
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


@app.post("/api/urls", summary="Sign an image URL (an <img src> rendered on the fly)", tags=["images"])
def create_image_url(request: ImageUrlCreate) -> ImageUrl:
    settings = get_settings()
    # On AWS the distribution's URL; the local stack serves /img/ on its own host.
    base = settings.image_url_base or _request_origin()
    return image_urls.create_url(request, caller(), get_stores(), settings, base)


@app.get("/api/functions", summary="The function catalog", tags=["functions"])
def list_functions() -> list[FunctionInfo]:
    return registry.catalog()


@app.get("/api/openapi.json", include_in_schema=False)
def get_openapi() -> Response[str]:
    return Response(status_code=HTTPStatus.OK, content_type="application/json", body=_served_openapi())


@app.get("/api/docs", include_in_schema=False)
def get_docs() -> Response[str]:
    # Swagger UI links the document under its title as this page's ?format=json (powertools' own convention).
    if (app.current_event.query_string_parameters or {}).get("format") == "json":
        return get_openapi()
    return Response(status_code=HTTPStatus.OK, content_type="text/html", body=swagger_html(_served_openapi()))


def _served_openapi() -> str:
    """The document with this stage's base path as its server, so "Try it out" works."""
    event = app.current_event
    full_path = event.request_context.path or event.path
    base = full_path[: -len(event.path)] if full_path.endswith(event.path) else ""
    document = json.loads(openapi_json())
    document["servers"] = [{"url": base or "/"}]
    return json.dumps(document)


@cache
def openapi_json() -> str:
    """The OpenAPI document of this API, with our problem responses (docs/openapi.json)."""
    schema = app.get_openapi_schema(title="pixelmill", version="1.0.0", description=__doc__)
    document = document_problems(schema.model_dump(mode="json", by_alias=True, exclude_none=True))
    document = with_typed_tasks(document, registry)
    document["paths"]["/img/{signature}/{steps}/{owner}/{image_id}"] = image_url_openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _request_origin() -> str:
    """``scheme://host`` of this request."""
    headers = {key.lower(): value for key, value in (app.current_event.headers or {}).items()}
    return f"{headers.get('x-forwarded-proto', 'https')}://{headers.get('host', 'localhost')}"


def _request_url() -> str:
    """The absolute URL of this request without its query: under the configured ``public_api_url``,
    else on the domain and path API Gateway reports (stage prefix included). Never from the
    client's Host header, which a client may set to anything."""
    event = app.current_event
    base = get_settings().public_api_url
    if base:
        return base.rstrip("/") + event.path
    path = event.request_context.path or event.path
    domain = event.request_context.domain_name
    scheme = (event.headers or {}).get("X-Forwarded-Proto") or "https"  # set by API Gateway, not the client
    return f"{'http' if scheme == 'http' else 'https'}://{domain}{path}" if domain else path


def _problem_response(
    status: HTTPStatus,
    detail: str,
    code: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=problem(status, detail, code, errors).model_dump_json(exclude_none=True),
        headers=headers,
    )


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def handle_validation_error(error: RequestValidationError) -> Response[str]:
    errors = [_field_error(item) for item in error.errors()]
    return _problem_response(
        HTTPStatus.BAD_REQUEST, "; ".join(f"{e.field}: {e.message}" for e in errors), "invalid_request", errors
    )


@app.exception_handler(PixelmillError)  # type: ignore[untyped-decorator]
def handle_domain_error(error: PixelmillError) -> Response[str]:
    status = status_of(error)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.exception("request failed")
    headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, QuotaExceeded) else None
    return _problem_response(status, error.message, error.code, getattr(error, "errors", None), headers)


@app.not_found
def handle_not_found(_error: NotFoundError) -> Response[str]:
    return _problem_response(
        HTTPStatus.NOT_FOUND, f"no route {app.current_event.http_method} {app.current_event.path}", "not_found"
    )


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def handle_unexpected(_error: Exception) -> Response[str]:
    logger.exception("unexpected error")
    return _problem_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; it has been logged", "internal_error")


def _field_error(item: dict[str, Any]) -> FieldError:
    """A powertools/pydantic error as a field path: body fields bare, query and path by name."""
    location = [str(part) for part in item.get("loc", ())]
    if item.get("type") == "json_invalid":  # its location is a character offset, not a field
        error = item.get("ctx", {}).get("error")
        return FieldError("body", f"not JSON: {error}" if error else "not JSON")
    if location and location[0] in {"body", "query", "path", "header"}:
        location = location[1:]
    return FieldError(".".join(location) or "body", str(item.get("msg", "invalid")))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@publish_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    unbind_task()  # a request about a task binds it (logic/tasks.py); the next one starts clean
    return _refuse_unreadable_body(event) or app.resolve(event, context)


def _refuse_unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a request whose body is not UTF-8 JSON: 415 for another Content-Type,
    400 for bytes that are not UTF-8; None for every other request.

    Checked before the resolver, whose request validation runs ahead of any middleware and
    would otherwise parse forms and multipart bodies, or fail on non-UTF-8 bytes."""
    body = event.get("body")
    if not body:
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media_type = str(headers.get("content-type") or JSON_MEDIA_TYPE).split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        status, code = HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"
        error = FieldError("Content-Type", f"{media_type} is not accepted: send {JSON_MEDIA_TYPE}")
    elif event.get("isBase64Encoded") and not _is_utf8(body):
        status, code, error = HTTPStatus.BAD_REQUEST, "invalid_request", FieldError("body", "not UTF-8 text")
    else:
        return None
    origin = headers.get("origin")
    allowed = CORS.allowed_origin(origin) if origin else None
    return {
        "statusCode": status.value,
        "headers": {"Content-Type": PROBLEM_CONTENT_TYPE, **(CORS.to_dict(allowed) if allowed else {})},
        "body": problem(status, f"{error.field}: {error.message}", code, [error]).model_dump_json(exclude_none=True),
        "isBase64Encoded": False,
    }


def _is_utf8(encoded: str) -> bool:
    try:
        base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return True
