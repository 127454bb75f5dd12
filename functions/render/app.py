"""RenderFunction: signed image URLs, GET /img/{signature}/{steps}/{owner}/{image_id}.

Called through its function URL (payload format 2.0) by CloudFront's origin access
control, and by the local stack's gateway. No IAM caller: the URL's HMAC signature
is the authorization (pixelmill.logic.image_urls).
"""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from pixelmill.dal import get_stores
from pixelmill.errors import PixelmillError
from pixelmill.logic import image_urls
from pixelmill.observability import logger, publish_metrics, tracer
from pixelmill.problems import PROBLEM_CONTENT_TYPE, problem, status_of
from pixelmill.settings import get_settings


def _problem(status: HTTPStatus, detail: str, code: str, errors: Any = None) -> dict[str, Any]:
    body = problem(status, detail, code, errors).model_dump_json(exclude_none=True)
    # Errors are cached briefly: a URL signed a moment later, or an upload finishing, is not hidden long.
    headers = {"Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "max-age=10", "Vary": "Accept"}
    return {"statusCode": status.value, "headers": headers, "body": body, "isBase64Encoded": False}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@tracer.capture_lambda_handler
@publish_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    if method not in ("GET", "HEAD"):
        return _problem(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed: image URLs answer GET", "method")
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    settings = get_settings()
    try:
        image = image_urls.render(event.get("rawPath", ""), headers.get("accept"), get_stores(), settings)
    except PixelmillError as error:
        status = status_of(error)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.exception("render failed")
        else:
            logger.info("image URL refused", extra={"code": error.code, "reason": error.message})
        return _problem(status, error.message, error.code, getattr(error, "errors", None))
    except Exception:
        logger.exception("unexpected error")
        return _problem(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; it has been logged", "internal_error")
    logger.info("image served", extra={"cache_hit": image.cache_hit, "bytes": len(image.data)})
    return {
        "statusCode": HTTPStatus.OK.value,
        "headers": {
            "Content-Type": image.content_type,
            "ETag": image.etag,
            # At most until the source expires (``image.max_age``): a render outlives it nowhere.
            "Cache-Control": f"public, max-age={image.max_age}, immutable",
            "Vary": "Accept",
            "X-Pixelmill-Cache": "hit" if image.cache_hit else "miss",
        },
        "body": base64.b64encode(image.data).decode(),
        "isBase64Encoded": True,
    }
