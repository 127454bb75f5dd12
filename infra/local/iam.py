"""IAM on the local stack: callers are the emulator's IAM users, requests are checked as AWS checks them.

The local API Gateway verifies each request's SigV4 signature (service
``execute-api``) with the secret the emulator holds for its access key, and
reports the caller in ``requestContext.identity`` as API Gateway does. The
emulator runs in this process, so its IAM backend is read directly: the IAM API
never returns a secret once a key is created.
"""

from __future__ import annotations

import contextlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

# API Gateway refuses a request signed more than 5 minutes from its clock.
MAX_CLOCK_SKEW = timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Principal:
    """An IAM user of the emulator, by one of its access keys."""

    account_id: str
    user_name: str
    user_id: str
    access_key_id: str
    secret_access_key: str

    @property
    def arn(self) -> str:
        """The user's ARN."""
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"

    def identity(self) -> dict[str, str]:
        """The fields of ``requestContext.identity`` API Gateway fills for an IAM-authorized call."""
        return {
            "accountId": self.account_id,
            "caller": self.user_id,
            "user": self.user_id,
            "userArn": self.arn,
            "accessKey": self.access_key_id,
        }


class AuthenticationError(Exception):
    """A request API Gateway would refuse; ``response_type`` names the gateway response it gets."""

    def __init__(self, response_type: str, message: str) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message


def find_access_key(access_key_id: str) -> Principal | None:
    """The emulator's active IAM user with this access key, or None."""
    from moto.iam.models import iam_backends  # the emulator's state, in this process

    for account_id, backends in list(iam_backends.items()):
        backend = backends["aws"]
        key = backend.access_keys.get(access_key_id)
        user_name = getattr(key, "user_name", None)
        if key is None or key.status != "Active" or not user_name:
            continue
        user = backend.users.get(user_name)
        if user is None:
            continue
        return Principal(account_id, user.name, user.id, access_key_id, key.secret_access_key)
    return None


class _Verifier(SigV4Auth):
    """botocore's SigV4 signer, made to recompute a signature over the headers the client signed."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: list[str]) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed:
            headers[name] = request.headers.get(name, "")
        return headers


def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    region: str,
    service: str = "execute-api",
    now: datetime | None = None,
) -> Principal:
    """The principal that signed this request with SigV4, or AuthenticationError saying
    why API Gateway would refuse it (no signature, unknown key, bad signature, clock skew)."""
    lower = {name.lower(): value for name, value in headers.items()}
    authorization = lower.get("authorization")
    if not authorization:
        raise AuthenticationError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    parsed = _AUTHORIZATION.match(authorization.strip())
    if parsed is None:
        raise AuthenticationError(
            "INVALID_SIGNATURE", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'"
        )
    access_key_id, _, scope = parsed["credential"].partition("/")
    scope_date, scope_region, scope_service, terminator = ([*scope.split("/"), "", "", "", ""])[:4]
    if (scope_region, scope_service, terminator) != (region, service, "aws4_request"):
        raise AuthenticationError(
            "INVALID_SIGNATURE", f"Credential should be scoped to region '{region}' and service '{service}'"
        )
    principal = find_access_key(access_key_id)
    if principal is None:
        raise AuthenticationError("INVALID_SIGNATURE", "The security token included in the request is invalid.")
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise AuthenticationError("INVALID_SIGNATURE", "the request has no valid X-Amz-Date header") from None
    clock = now or datetime.now(UTC)
    if abs(clock - signed_at) > MAX_CLOCK_SKEW or scope_date != amz_date[:8]:
        raise AuthenticationError(
            "INVALID_SIGNATURE",
            f"Signature expired: {amz_date} is now earlier than {(clock - MAX_CLOCK_SKEW).strftime(_AMZ_DATE)} "
            f"({clock.strftime(_AMZ_DATE)} - 5 min.)",
        )
    signed = parsed["signed"].split(";")
    claimed_digest = lower.get("x-amz-content-sha256")
    if claimed_digest not in (None, sha256(body).hexdigest()):
        raise AuthenticationError("INVALID_SIGNATURE", "The request body does not match its X-Amz-Content-Sha256.")
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    request.context["timestamp"] = amz_date
    verifier = _Verifier(Credentials(access_key_id, principal.secret_access_key), scope_service, scope_region, signed)
    expected = verifier.signature(verifier.string_to_sign(request, verifier.canonical_request(request)), request)
    if "host" not in signed or not hmac.compare_digest(expected, parsed["signature"]):
        raise AuthenticationError(
            "INVALID_SIGNATURE",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return principal


@dataclass(frozen=True)
class User:
    """An IAM user of the emulator as kept across restarts: its name, unique id and access keys."""

    name: str
    user_id: str
    keys: tuple[tuple[str, str], ...]
    """``(access key id, secret)`` pairs."""


def users(account_id: str) -> list[User]:
    """The emulator's IAM users with their ids and active keys (secrets included)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["aws"]
    return [
        User(
            user.name,
            user.id,
            tuple((key.access_key_id, key.secret_access_key) for key in user.access_keys if key.status == "Active"),
        )
        for user in list(backend.users.values())
    ]


def put_user(iam: Any, account_id: str, user: User) -> None:
    """Make ``user`` exist on the emulator exactly as kept: same unique id (its tenant, which
    owns its tasks), same keys. IAM's API cannot choose either, so the emulator's state is set."""
    from moto.iam.models import iam_backends

    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=user.name)
    backend = iam_backends[account_id]["aws"]
    stored = backend.users[user.name]
    stored.id = user.user_id
    for access_key_id, secret in user.keys:
        if access_key_id in backend.access_keys:
            continue
        created = iam.create_access_key(UserName=user.name)["AccessKey"]["AccessKeyId"]
        key = backend.access_keys.pop(created)
        key.access_key_id, key.secret_access_key = access_key_id, secret
        backend.access_keys[access_key_id] = key


def create_user(iam: Any, name: str) -> tuple[str, str]:
    """An IAM user ``name`` on the emulator (made if missing) and an access key of it:
    its first one if it has one, else a new one. Returns ``(key id, secret)``."""
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=name)
    from moto.iam.models import iam_backends

    for backends in list(iam_backends.values()):
        user = backends["aws"].users.get(name)
        active = [key for key in (user.access_keys if user else []) if key.status == "Active"]
        if active:
            return active[0].access_key_id, active[0].secret_access_key
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]
