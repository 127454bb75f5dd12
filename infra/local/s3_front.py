"""What S3 does that moto does not: check presigned POST policies, and name the uploader in notifications.

``S3Front`` wraps the emulator's WSGI application:

- A browser-form POST upload (a presigned POST) is checked against its policy
  as S3 checks it before anything is stored: the signature over the policy,
  its expiry, every condition (exact fields such as ``key``, ``Content-Type``
  and ``x-amz-meta-*``, ``starts-with``, ``content-length-range``) and no form
  field the policy does not cover. moto stores whatever is posted.
- Every S3 write (PUT, POST form, multipart completion, copy) is remembered with
  the principal whose access key signed it, so that the local stack can put
  ``userIdentity.principalId`` in the notification, as S3 does (moto's has none).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.formparser import parse_form_data

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SecretOf = Callable[[str], str | None]
"""The secret of an access key id, or None if the key is unknown."""
PrincipalOf = Callable[[str], str]
"""The principal id S3 reports for an access key id (``AWS:<unique id>``)."""

# Form fields a POST policy need not cover (S3's rule), besides those starting with x-ignore-.
_UNCOVERED_FIELDS = {"x-amz-signature", "file", "policy"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^,\s]*/s3/aws4_request")
# Requests on an object that change something about it but not its content (who wrote it stays).
_NOT_WRITES = {"tagging", "acl", "retention", "legal-hold", "restore", "select"}


class PolicyRefused(Exception):
    """An upload S3 would refuse: its HTTP status, S3's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_post_policy(
    fields: Mapping[str, str], file_size: int, bucket: str, secret_of: SecretOf, now: datetime | None = None
) -> str:
    """Check a POST upload's form against its policy as S3 does; returns the signing access key id.

    Raises PolicyRefused with the status and error S3 would answer.
    """
    form = {name.lower(): value for name, value in fields.items()}
    policy_text = form.get("policy", "")
    try:
        policy = json.loads(base64.b64decode(policy_text, validate=True))
    except (binascii.Error, ValueError):
        raise PolicyRefused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise PolicyRefused(400, "InvalidPolicyDocument", "Invalid Policy: no conditions.")

    access_key_id, _, scope = form.get("x-amz-credential", "").partition("/")
    secret = secret_of(access_key_id) if access_key_id else None
    if form.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or secret is None:
        raise PolicyRefused(
            403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        )
    date, region, service, _ = [*scope.split("/"), "", "", "", ""][:4]
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, policy_text.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, form.get("x-amz-signature", "")):
        raise PolicyRefused(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )

    try:
        expires = datetime.fromisoformat(str(policy.get("expiration", "")).replace("Z", "+00:00"))
    except ValueError:
        raise PolicyRefused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.") from None
    if expires <= (now or datetime.now(UTC)):
        raise PolicyRefused(403, "AccessDenied", "Invalid according to Policy: Policy expired.")

    form.setdefault("bucket", bucket)
    covered = {"bucket"}
    for condition in policy["conditions"]:
        covered.add(_check_condition(condition, form, file_size))
    extra = sorted(
        name for name in form if name not in covered | _UNCOVERED_FIELDS and not name.startswith("x-ignore-")
    )
    if extra:
        raise PolicyRefused(403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
    return access_key_id


def _check_condition(condition: Any, form: Mapping[str, str], file_size: int) -> str:
    """Check one condition of a policy; returns the (lower-case) field it covers."""
    if isinstance(condition, dict) and len(condition) == 1:
        ((name, value),) = condition.items()
        operator, field, expected = "eq", f"${name}", value
    elif isinstance(condition, list) and len(condition) == 3:
        operator, field, expected = condition
    else:
        raise PolicyRefused(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {condition}")
    if operator == "content-length-range":
        if file_size > int(expected):
            raise PolicyRefused(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        if file_size < int(field):
            raise PolicyRefused(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        return ""
    name = str(field).removeprefix("$").lower()
    actual = form.get(name, "")
    if (operator == "eq" and actual != str(expected)) or (
        operator == "starts-with" and not actual.startswith(str(expected))
    ):
        raise PolicyRefused(
            403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
        )
    if operator not in ("eq", "starts-with"):
        raise PolicyRefused(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {condition}")
    return name


class S3Front:
    """WSGI middleware for the emulator: S3's POST policy checks, and who wrote each object."""

    def __init__(self, app: WsgiApp, secret_of: SecretOf, principal_of: PrincipalOf) -> None:
        self.app = app
        self.secret_of = secret_of
        self.principal_of = principal_of
        self._writers: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def writer_of(self, bucket: str, key: str) -> str | None:
        """The principal id that last wrote ``key`` in ``bucket`` (as S3 reports it in notifications)."""
        with self._lock:
            return self._writers.get((bucket, key))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        bucket, _, key = path.lstrip("/").partition("/")
        if method not in ("PUT", "POST") or not bucket:
            return self.app(environ, start_response)
        content_type = environ.get("CONTENT_TYPE", "")
        if method == "POST" and not key and content_type.startswith("multipart/form-data"):
            return self._form_upload(environ, start_response, bucket)
        signer = _s3_access_key(environ)
        if signer is not None and key and not _NOT_WRITES & set(parse_qs(environ.get("QUERY_STRING", ""), True)):
            self._remember(bucket, key, signer)
        return self.app(environ, start_response)

    def _form_upload(self, environ: dict[str, Any], start_response: Callable[..., Any], bucket: str) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        _, form, files = parse_form_data({**environ, "wsgi.input": io.BytesIO(body)})
        upload = files.get("file")
        size = len(upload.read()) if upload is not None else 0
        try:
            signer = check_post_policy(form.to_dict(), size, bucket, self.secret_of)
        except PolicyRefused as refused:
            payload = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{refused.code}</Code><Message>{escape(refused.message)}</Message></Error>"
            ).encode()
            start_response(
                f"{refused.status} {'Forbidden' if refused.status == 403 else 'Bad Request'}",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        self._remember(bucket, form.get("key", ""), signer)
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def _remember(self, bucket: str, key: str, access_key_id: str) -> None:
        with self._lock:
            self._writers[(bucket, key)] = self.principal_of(access_key_id)


def _s3_access_key(environ: Mapping[str, Any]) -> str | None:
    """The access key id that signed an S3 request (Authorization header or presigned query), if any."""
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found:
        return found.group(1)
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    access_key_id, _, scope = credential.partition("/")
    return access_key_id if scope.endswith("/s3/aws4_request") else None
