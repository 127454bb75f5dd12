"""Tenants: who owns an upload, a task and its result.

A tenant is an IAM principal, named by its unique id: ``AIDA…`` for an IAM
user, ``AROA…`` for a role, the account id for the account's root. API Gateway
reports the caller's principal id in ``requestContext.identity.user`` and S3
the uploader's in a notification's ``userIdentity.principalId``; both are
``<unique id>`` or, for a role, ``<role id>:<session name>``. The tenant is the
part before the colon: every session of a role is the same tenant (a Lambda
function, an SSO user signing in again), and a user or role deleted and
created again under the same name is a new tenant, as IAM itself treats it.

Federated users (``<account id>:<name>``, from ``GetFederationToken``) have no
unique id of their own: they are refused rather than mapped to the account.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

# IAM unique ids are letters and digits (AWS: upper case, 21 characters; moto's users:
# 20 lower-case ones); an account id is 12 digits. The tenant is also a segment of S3 keys.
TENANT_PATTERN = r"^[A-Za-z0-9]{12,128}$"
_ACCOUNT_ID = re.compile(r"^\d{12}$")

Tenant = Annotated[str, Field(pattern=TENANT_PATTERN, description="The owner: an IAM principal's unique id.")]


def tenant_of_principal(principal_id: str | None) -> str | None:
    """The tenant of an IAM principal id as API Gateway or S3 reports it (an ``AWS:``
    prefix allowed), or None when it names no principal that can own data."""
    if not principal_id:
        return None
    unique_id, colon, session = principal_id.removeprefix("AWS:").partition(":")
    if colon and (not session or _ACCOUNT_ID.fullmatch(unique_id)):
        return None  # a federated user (account:name), or a malformed id
    return unique_id if re.fullmatch(TENANT_PATTERN, unique_id) else None
