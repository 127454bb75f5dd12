"""Requests signed with AWS Signature Version 4 for API Gateway (service ``execute-api``)."""

from __future__ import annotations

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class ExecuteApiSigV4(requests.auth.AuthBase):
    """A requests auth that signs each prepared request as an IAM caller of the API."""

    def __init__(self, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self._signer = SigV4Auth(Credentials(access_key, secret_key), "execute-api", region)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        signed = AWSRequest(
            method=request.method,
            url=request.url,
            data=body.encode() if isinstance(body, str) else body,
            headers={name: value for name, value in request.headers.items() if name.lower() != "connection"},
        )
        self._signer.add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        return request
