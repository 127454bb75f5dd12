"""The local stack's checks of what AWS checks: SigV4 on API calls, POST policies on uploads."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from moto import mock_aws

from infra.local.iam import AuthenticationError, Principal, verify_request
from infra.local.s3_front import PolicyRefused, S3Front, check_post_policy

URL = "http://127.0.0.1:3000/api/tasks/?limit=2"


@pytest.fixture
def user(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    """An IAM user of the emulator: (unique id, access key id, secret)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        iam = boto3.client("iam")
        user_id = iam.create_user(UserName="carol")["User"]["UserId"]
        key = iam.create_access_key(UserName="carol")["AccessKey"]
        yield user_id, key["AccessKeyId"], key["SecretAccessKey"]


def _signed(method: str, body: bytes, key: str, secret: str, region: str = "us-east-1") -> dict[str, str]:
    request = AWSRequest(method=method, url=URL, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "execute-api", region).add_auth(request)
    return {**dict(request.headers.items()), "Host": "127.0.0.1:3000"}


def test_a_signed_request_names_its_principal(user: tuple[str, str, str]) -> None:
    user_id, key, secret = user
    body = b'{"a": 1}'

    principal = verify_request("POST", URL, _signed("POST", body, key, secret), body, region="us-east-1")

    assert isinstance(principal, Principal)
    assert principal.identity() == {
        "accountId": "123456789012",
        "caller": user_id,
        "user": user_id,
        "userArn": "arn:aws:iam::123456789012:user/carol",
        "accessKey": key,
    }


@pytest.mark.parametrize(
    ("change", "response_type"),
    [
        ("no authorization", "MISSING_AUTHENTICATION_TOKEN"),
        ("another body", "INVALID_SIGNATURE"),
        ("another method", "INVALID_SIGNATURE"),
        ("another region", "INVALID_SIGNATURE"),
        ("a lying body digest", "INVALID_SIGNATURE"),
        ("a deleted key", "INVALID_SIGNATURE"),
        ("an hour later", "INVALID_SIGNATURE"),
    ],
)
def test_what_api_gateway_refuses_is_refused(user: tuple[str, str, str], change: str, response_type: str) -> None:
    _, key, secret = user
    body = b'{"a": 1}'
    headers = _signed("POST", body, key, secret, "eu-west-1" if change == "another region" else "us-east-1")
    method, now = "POST", None
    if change == "no authorization":
        del headers["Authorization"]
    elif change == "another body":
        body = b'{"a": 2}'
    elif change == "another method":
        method = "PUT"
    elif change == "a lying body digest":
        headers["X-Amz-Content-SHA256"] = "0" * 64
    elif change == "a deleted key":
        boto3.client("iam").delete_access_key(UserName="carol", AccessKeyId=key)
    elif change == "an hour later":
        now = datetime.now(UTC) + timedelta(hours=1)

    with pytest.raises(AuthenticationError) as refused:
        verify_request(method, URL, headers, body, region="us-east-1", now=now)

    assert refused.value.response_type == response_type


# --- POST policies ------------------------------------------------------------------------------

BUCKET = "pixelmill-images-123456789012-us-east-1"


def _form(key: str = "uploads/owner00000000/x", expires_in: int = 60) -> dict[str, str]:
    with mock_aws():
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(signature_version="s3v4"),  # as the service presigns
        )
        post = s3.generate_presigned_post(
            Bucket=BUCKET,
            Key=key,
            Fields={"Content-Type": "image/png"},
            Conditions=[{"Content-Type": "image/png"}, ["content-length-range", 1, 100]],
            ExpiresIn=expires_in,
        )
    return dict(post["fields"])


def _secret(access_key_id: str) -> str | None:
    return "local" if access_key_id == "local" else None


def test_a_form_as_issued_passes_and_names_its_signer() -> None:
    assert check_post_policy(_form(), 10, BUCKET, _secret) == "local"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"key": "uploads/someone0000000/x"}, "AccessDenied"),
        ({"Content-Type": "text/html"}, "AccessDenied"),
        ({"x-amz-meta-owner": "someone"}, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, "SignatureDoesNotMatch"),
        ({"x-amz-credential": "AKIAUNKNOWN/20260101/us-east-1/s3/aws4_request"}, "InvalidAccessKeyId"),
    ],
)
def test_a_changed_form_is_refused(change: dict[str, str], code: str) -> None:
    with pytest.raises(PolicyRefused) as refused:
        check_post_policy({**_form(), **change}, 10, BUCKET, _secret)

    assert refused.value.code == code


def test_a_rewritten_policy_does_not_match_its_signature() -> None:
    form = _form()
    policy = json.loads(base64.b64decode(form["policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if not (isinstance(c, dict) and "key" in c)]
    form["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()

    with pytest.raises(PolicyRefused, match="signature"):
        check_post_policy({**form, "key": "results/anything"}, 10, BUCKET, _secret)


@pytest.mark.parametrize(("size", "code"), [(101, "EntityTooLarge"), (0, "EntityTooSmall")])
def test_the_size_range_holds(size: int, code: str) -> None:
    with pytest.raises(PolicyRefused) as refused:
        check_post_policy(_form(), size, BUCKET, _secret)

    assert refused.value.code == code


def test_an_expired_policy_is_refused() -> None:
    with pytest.raises(PolicyRefused, match="Policy expired"):
        check_post_policy(_form(), 10, BUCKET, _secret, now=datetime.now(UTC) + timedelta(minutes=5))


def test_a_form_for_another_bucket_is_refused() -> None:
    with pytest.raises(PolicyRefused, match="bucket"):
        check_post_policy(_form(), 10, "another-bucket", _secret)


def test_the_front_remembers_who_wrote_an_object_not_who_tagged_it() -> None:
    # Given the emulator behind the front, and two principals' keys
    seen: list[str] = []

    def emulator(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [])
        return [b""]

    front = S3Front(emulator, secret_of=_secret, principal_of=lambda key: f"AWS:{key.lower()}")

    def put(query: str, access_key_id: str) -> None:
        credential = f"Credential={access_key_id}/20261201/us-east-1/s3/aws4_request"
        environ = {
            "REQUEST_METHOD": "PUT",
            "PATH_INFO": f"/{BUCKET}/incoming/a.jpg",
            "QUERY_STRING": query,
            "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 {credential}, SignedHeaders=host, Signature=x",
        }
        list(front(environ, lambda *_: None))

    # When one writes the object and the other (the ingest function) tags it
    put("", "AKIAUPLOADER")
    put("tagging", "LOCAL")

    # Then the writer is the uploader, and both requests reached the emulator
    assert front.writer_of(BUCKET, "incoming/a.jpg") == "AWS:akiauploader"
    assert seen == ["PUT", "PUT"]
