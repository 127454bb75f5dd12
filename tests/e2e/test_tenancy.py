"""Identity and tenancy on the local stack, over real HTTP: calls are signed as on AWS, and two
IAM users never see, use or delete each other's images, tasks and results."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import REGION, RunningStack, start_stack
from tests.e2e.test_local_stack import create, upload, wait_all
from tests.e2e.test_upload_triggers import tasks_of
from tests.imagegen import jpeg_bytes

NEVER_IMAGE = "0197e45a-8fc5-7848-9c9f-56cc0ae0a087"
NEVER_TASK = "01JD0000000000000000000000"


def _signed_at(url: str, access_key_id: str, secret: str, when: datetime) -> dict[str, str]:
    """Headers of a GET of ``url`` signed with SigV4 as if at ``when``."""
    request = AWSRequest(method="GET", url=url)
    timestamp = when.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = timestamp
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(access_key_id, secret), "execute-api", REGION)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    scope = f"{access_key_id}/{timestamp[:8]}/{REGION}/execute-api/aws4_request"
    return {
        "X-Amz-Date": timestamp,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, Signature={signature}",
    }


def test_two_users_never_reach_each_others_images_tasks_or_results(local_stack: RunningStack) -> None:
    # Given alice's finished task, with its source and its result
    api = local_stack.api
    task = create(local_stack, upload(local_stack, jpeg_bytes(64, 48)), "grayscale", {})
    (done,) = wait_all(local_stack, [task["task_id"]]).values()
    assert done["status"] == "done"
    bob = local_stack.new_caller("bob-tenancy").session()

    def same(response: requests.Response, missing: requests.Response) -> None:
        assert (response.status_code, response.json()["type"]) == (missing.status_code, missing.json()["type"])

    # Then bob can read, list, run on or delete none of it: each answers as an id that does not exist
    for image_id in (done["image_id"], done["new_image_id"]):
        same(bob.get(f"{api}/images/{image_id}/", timeout=30), bob.get(f"{api}/images/{NEVER_IMAGE}/", timeout=30))
        assert bob.get(f"{api}/images/{image_id}/", timeout=30).status_code == 404
        body = {"image_id": image_id, "function_type": "grayscale"}
        same(
            bob.post(f"{api}/tasks/", json=body, timeout=30),
            bob.post(f"{api}/tasks/", json={**body, "image_id": NEVER_IMAGE}, timeout=30),
        )
        assert bob.get(f"{api}/tasks/", params={"image_id": image_id}, timeout=30).json() == []
    for method in ("GET", "DELETE"):
        theirs = bob.request(method, f"{api}/tasks/{done['task_id']}/", timeout=30)
        same(theirs, bob.request(method, f"{api}/tasks/{NEVER_TASK}/", timeout=30))
        assert theirs.status_code == 404
    assert bob.get(f"{api}/tasks/", timeout=30).json() == []

    # And alice still has it all
    mine = local_stack.session.get(f"{api}/tasks/{done['task_id']}/", timeout=30)
    assert mine.status_code == 200
    assert requests.get(mine.json()["result_url"], timeout=30).status_code == 200


def test_unsigned_badly_signed_and_unknown_key_calls_get_a_403_problem(local_stack: RunningStack) -> None:
    assert local_stack.alice is not None
    url = f"{local_stack.api}/tasks/"
    key, secret = local_stack.alice.access_key_id, local_stack.alice.secret_access_key
    now = datetime.now(UTC)
    refused = {
        "unsigned": requests.get(url, timeout=30),
        "wrong secret": requests.get(url, headers=_signed_at(url, key, "not-the-secret", now), timeout=30),
        "unknown key": requests.get(url, headers=_signed_at(url, "AKIAUNKNOWNKEY000000", secret, now), timeout=30),
        "clock skew": requests.get(url, headers=_signed_at(url, key, secret, now - timedelta(minutes=10)), timeout=30),
    }

    for case, response in refused.items():
        assert response.status_code == 403, case
        assert response.headers["Content-Type"] == "application/problem+json", case
        problem = response.json()
        assert (problem["status"], problem["title"]) == (403, "Forbidden"), case
        assert problem["detail"], case
    # The same request signed right, at the right time, goes through; the docs need no signature
    assert requests.get(url, headers=_signed_at(url, key, secret, now), timeout=30).status_code == 200
    assert requests.get(f"{local_stack.api}/openapi.json", timeout=30).status_code == 200
    assert requests.get(f"{local_stack.api}/docs", timeout=30).status_code == 200


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_signs_as_the_readme_shows(local_stack: RunningStack) -> None:
    assert local_stack.alice is not None
    caller = local_stack.alice
    answered = subprocess.run(
        [
            "curl",
            "-s",
            "--aws-sigv4",
            f"aws:amz:{REGION}:execute-api",
            "--user",
            f"{caller.access_key_id}:{caller.secret_access_key}",
            "-w",
            "\n%{http_code}",
            f"{local_stack.api}/functions/",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert answered.stdout.rsplit("\n", 1)[1] == "200", answered.stdout


def test_a_tampered_presigned_post_cannot_write_under_another_prefix(local_stack: RunningStack) -> None:
    # Given alice's presigned POST, and bob's tenant
    bob = local_stack.new_caller("bob-tampering")
    started = local_stack.session.post(f"{local_stack.api}/images/", json={"content_type": "image/jpeg"}, timeout=30)
    form = started.json()["upload"]
    fields: dict[str, Any] = form["fields"]
    bucket = form["url"].rstrip("/").rsplit("/", 1)[-1]
    file = {"file": ("a.jpg", jpeg_bytes(16, 16), "image/jpeg")}
    stolen_key = f"uploads/{bob.user_id}/{started.json()['image_id']}"

    # When the form is changed: another tenant's key, another type, a field the policy does not cover
    attempts = {
        "key": {**fields, "key": stolen_key},
        "type": {**fields, "Content-Type": "image/png"},
        "extra field": {**fields, "x-amz-meta-function-type": "thumbnail"},
    }
    for change, data in attempts.items():
        posted = requests.post(form["url"], data=data, files=file, timeout=30)

        # Then storage refuses it, as S3 refuses a form its policy does not allow, and stores nothing
        assert posted.status_code == 403, (change, posted.text)
        assert "<Code>AccessDenied</Code>" in posted.text, change
    s3 = local_stack.client("s3")
    assert s3.list_objects_v2(Bucket=bucket, Prefix=stolen_key).get("KeyCount", 0) == 0
    assert s3.list_objects_v2(Bucket=bucket, Prefix=fields["key"]).get("KeyCount", 0) == 0
    # And the form as it was given works
    assert requests.post(form["url"], data=fields, files=file, timeout=30).status_code == 204


def test_a_file_a_user_drops_into_incoming_is_theirs(local_stack: RunningStack) -> None:
    # Given bob, an IAM user, who writes a photo straight into incoming/thumbnails/ with S3
    bob = local_stack.new_caller("bob-dropping")
    s3 = local_stack.client("s3", bob)
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "image" in b["Name"])
    s3.put_object(Bucket=bucket, Key="incoming/thumbnails/bob.jpg", Body=jpeg_bytes(64, 48), ContentType="image/jpeg")
    as_bob = RunningStack(local_stack.process, local_stack.api_port, local_stack.aws_port, local_stack.log_path)
    as_bob.act_as(bob)

    # Then S3 names him in the notification: the thumbnail task is his, and alice does not see it
    (task,) = tasks_of(as_bob, "in-dGh1bWJuYWlscy9ib2IuanBn")  # incoming/thumbnails/bob.jpg
    assert (task["function_type"], task["status"]) == ("thumbnail", "done")
    listed = local_stack.session.get(f"{local_stack.api}/tasks/", params={"image_id": task["image_id"]}, timeout=30)
    assert listed.json() == []
    assert local_stack.session.get(f"{local_stack.api}/images/{task['image_id']}/", timeout=30).status_code == 404


def test_over_the_quota_a_task_is_a_429_and_nothing_is_created(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "stack.log", "--parameter-overrides", "MaxUnfinishedTasksPerCaller=1")
    try:
        # Given alice's one unfinished task, a slow one (a lossless AVIF of a large image)
        image_id = upload(stack, jpeg_bytes(1600, 1200))
        slow = create(stack, image_id, "convert", {"format": "avif", "quality": 100})

        # When she asks for another
        refused = stack.session.post(
            f"{stack.api}/tasks/", json={"image_id": image_id, "function_type": "grayscale"}, timeout=30
        )

        # Then it is a 429 saying when to retry, and only the first task exists
        assert refused.status_code == 429, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) > 0
        assert [t["task_id"] for t in stack.session.get(f"{stack.api}/tasks/", timeout=30).json()] == [slow["task_id"]]
        # And once it has finished she may create the next
        wait_all(stack, [slow["task_id"]], timeout=120)
        assert create(stack, image_id, "grayscale", {})["status"] in ("queued", "processing", "done")
    finally:
        assert stack.stop() == 0, stack.log()
