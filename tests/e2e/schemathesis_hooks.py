"""Hooks of the schemathesis CLI run (tests/e2e/test_schemathesis.py): every request it makes
is signed with SigV4 for API Gateway, as the CLI signs, by the IAM user whose key is in the
environment."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from botocore.credentials import Credentials

from pixelmill_cli.client import SigV4

AUTH = SigV4(
    Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
    os.environ.get("AWS_REGION", "us-east-1"),
)


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    kwargs["auth"] = AUTH  # requests signs the request as prepared: method, URL, content type and body
