"""Signed image URLs through the real handlers: POST /api/urls/ on ApiFunction, then
RenderFunction called with function URL events (payload 2.0) as Lambda sends them."""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from pixelmill.dal import SigningKeys, get_stores
from pixelmill.logic.image_urls import SOURCE_EXPIRES, source_expiry
from pixelmill.models.ids import OWNER_TAG, incoming_image_id
from pixelmill.settings import get_settings
from tests.imagegen import decode, image_bytes
from tests.integration.conftest import BOB, Stack

WEBP_ACCEPT = "image/webp,*/*"


def get(stack: Stack, path: str, accept: str | None = WEBP_ACCEPT, method: str = "GET") -> dict[str, Any]:
    return stack.get_image_url(path, accept, method)


def sign(stack: Stack, image_id: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = stack.api.post("/api/urls/", json_body={"image_id": image_id, "steps": steps, **extra})
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def cache_keys(stack: Stack) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="cache/")
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_signed_url_renders_then_comes_from_the_cache(stack: Stack) -> None:
    # Given alice's JPEG and a URL she signed for an 80 px WebP (format=auto)
    image_id = stack.upload(image_bytes("JPEG", 320, 240), "image/jpeg")
    url = sign(
        stack,
        image_id,
        [
            {"function_type": "resize", "function_args": {"width": 80}},
            {"function_type": "convert", "function_args": {"format": "auto"}},
        ],
    )
    assert url["url"].startswith("https://api.example.test/img/")  # no distribution here: the API's host
    assert f"/resize:width=80/convert:format=auto/{stack.api.tenant}/{image_id}" in url["path"]
    # When a browser that takes WebP asks twice
    first, second = get(stack, url["path"]), get(stack, url["path"])
    # Then the first is rendered, the second served from the cache, byte for byte
    assert first["statusCode"] == 200, first["body"]
    assert first["headers"]["X-Pixelmill-Cache"] == "miss"
    assert second["headers"]["X-Pixelmill-Cache"] == "hit"
    assert first["isBase64Encoded"]
    assert first["body"] == second["body"]
    image = decode(base64.b64decode(first["body"]))
    assert image.format == "WEBP"
    assert image.size == (80, 60)
    assert first["headers"]["Content-Type"] == "image/webp"
    assert first["headers"]["Vary"] == "Accept"
    assert first["headers"]["ETag"] == second["headers"]["ETag"]
    # kept by CDNs and browsers until the upload expires (sooner than the configured year)
    upload_key = f"uploads/{stack.api.tenant}/{image_id}"
    written = boto3.client("s3").head_object(Bucket=stack.bucket, Key=upload_key)["LastModified"]
    time_left = source_expiry(upload_key, written, get_settings()) - time.time()
    for answer in (first, second):
        max_age = int(answer["headers"]["Cache-Control"].removeprefix("public, max-age=").removesuffix(", immutable"))
        assert answer["headers"]["Cache-Control"] == f"public, max-age={max_age}, immutable"
        assert time_left - 60 < max_age <= time_left < get_settings().image_cache_max_age_seconds
    # And a client without WebP gets a JPEG, cached apart
    plain = get(stack, url["path"], accept="*/*")
    assert plain["headers"]["Content-Type"] == "image/jpeg"
    assert plain["headers"]["X-Pixelmill-Cache"] == "miss"
    assert len(cache_keys(stack)) == 2
    assert all(key.startswith(f"cache/{stack.api.tenant}/") for key in cache_keys(stack))


def test_deleting_a_task_deletes_the_cached_renders_of_its_result(stack: Stack) -> None:
    # Given a task's result and an upload, each rendered through a signed URL
    upload = stack.upload(image_bytes("JPEG", 320, 240), "image/jpeg")
    created = stack.api.post(
        "/api/tasks/", json_body={"image_id": upload, "function_type": "grayscale", "function_args": {}}
    )
    task_id = created.json()["task_id"]
    assert stack.process_batch().succeeded == 1
    steps = [{"function_type": "resize", "function_args": {"width": 40}}]
    of_result, of_upload = sign(stack, f"res-{task_id}", steps)["path"], sign(stack, upload, steps)["path"]
    assert get(stack, of_result)["statusCode"] == get(stack, of_upload)["statusCode"] == 200
    assert len(cache_keys(stack)) == 2
    # When the task is deleted
    assert stack.api.delete(f"/api/tasks/{task_id}/").status == 204
    # Then its result's render is gone from the cache (its URL finds no image), the upload's stays
    (kept,) = cache_keys(stack)
    assert get(stack, of_upload)["headers"]["X-Pixelmill-Cache"] == "hit"
    assert get(stack, of_result)["statusCode"] == 404
    assert cache_keys(stack) == [kept]


def _expire_cached_sources(stack: Stack) -> None:
    """Make every cached render say that its source has expired (an hour ago)."""
    s3 = boto3.client("s3")
    for key in cache_keys(stack):
        head = s3.head_object(Bucket=stack.bucket, Key=key)
        s3.copy_object(
            Bucket=stack.bucket,
            Key=key,
            CopySource={"Bucket": stack.bucket, "Key": key},
            ContentType=head["ContentType"],
            Metadata={SOURCE_EXPIRES: str(int(time.time()) - 3600)},
            MetadataDirective="REPLACE",
        )


def test_a_render_is_served_no_longer_than_its_source_is_kept(stack: Stack) -> None:
    # Given a render cached from an upload whose retention then ran out
    image_id = stack.upload(image_bytes("JPEG", 320, 240), "image/jpeg")
    path = sign(stack, image_id, [{"function_type": "resize", "function_args": {"width": 40}}])["path"]
    assert get(stack, path)["headers"]["X-Pixelmill-Cache"] == "miss"
    _expire_cached_sources(stack)
    # When the upload is there (written again since: here, it was never that old), the URL is
    # rendered again from it: the cache does not answer for a source past its time
    again = get(stack, path)
    assert again["statusCode"] == 200
    assert again["headers"]["X-Pixelmill-Cache"] == "miss"
    assert get(stack, path)["headers"]["X-Pixelmill-Cache"] == "hit"  # cached with the upload's own expiry
    # And once S3 has removed it, the URL finds no image, though its render is still in the cache
    boto3.client("s3").delete_object(Bucket=stack.bucket, Key=f"uploads/{stack.api.tenant}/{image_id}")
    _expire_cached_sources(stack)
    gone = get(stack, path)
    assert gone["statusCode"] == 404, gone["body"]
    assert len(cache_keys(stack)) == 1


def test_a_folder_of_renders_longer_than_a_listing_page_is_deleted_whole(stack: Stack) -> None:
    # S3 lists (and deletes) at most 1,000 keys a request
    s3 = boto3.client("s3")
    for index in range(1001):
        s3.put_object(Bucket=stack.bucket, Key=f"cache/{stack.api.tenant}/folder/{index}", Body=b"x")
    s3.put_object(Bucket=stack.bucket, Key=f"cache/{stack.api.tenant}/folder-next/0", Body=b"x")

    assert get_stores().images.delete_prefix(f"cache/{stack.api.tenant}/folder/") == 1001

    assert cache_keys(stack) == [f"cache/{stack.api.tenant}/folder-next/0"]


def problem(result: dict[str, Any]) -> dict[str, Any]:
    assert result["headers"]["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(result["body"])
    assert body["status"] == result["statusCode"]
    return body


def test_refusals_are_problems_and_cache_nothing(stack: Stack) -> None:
    image_id = stack.upload(image_bytes("PNG", 64, 48), "image/png")
    path = sign(stack, image_id, [{"function_type": "grayscale"}])["path"]
    signature = path.split("/")[2]
    tail = path.split("/", 3)[3]
    cases = {
        # a wrong signature, and none
        path.replace(signature, "A" * 43): 403,
        f"/img/{tail}": 400,  # the signature segment missing: the path has too few parts to be read as steps
        # malformed and refused steps (read before the signature)
        path.replace("grayscale", "resize:width=80,width=90"): 400,
        path.replace("grayscale", "change_projection:target_srs=EPSG%3A3857"): 400,
        path.replace("grayscale", "/".join(["grayscale"] * 11)): 400,
    }
    for url, status in cases.items():
        result = get(stack, url)
        assert result["statusCode"] == status, (url, result["body"])
        problem(result)
    assert problem(get(stack, path.replace(signature, "A" * 43)))["type"].endswith("invalid_signature")
    assert get(stack, path, method="POST")["statusCode"] == 405
    assert cache_keys(stack) == []


def test_a_url_never_reads_another_tenants_image(stack: Stack) -> None:
    # Given an image of bob's
    bob = stack.api.as_caller(BOB)
    bobs_image = stack.upload(image_bytes("PNG", 64, 48), "image/png", api=bob)
    # When alice asks to sign a URL for it, she is told it does not exist
    refused = stack.api.post(
        "/api/urls/", json_body={"image_id": bobs_image, "steps": [{"function_type": "grayscale"}]}
    )
    assert refused.status == 404, refused.body
    # And a URL alice signs for her own (missing) id names her as the owner: it is a 404, not bob's image
    alices = stack.upload(image_bytes("PNG", 64, 48), "image/png")
    path = sign(stack, alices, [{"function_type": "grayscale"}])["path"]
    result = get(stack, path.replace(alices, bobs_image))
    assert result["statusCode"] == 403  # the signature covers the image id
    boto3.client("s3").delete_object(Bucket=stack.bucket, Key=f"uploads/{stack.api.tenant}/{alices}")
    assert get(stack, path)["statusCode"] == 404


def test_a_file_under_incoming_renders_only_while_its_tag_names_the_signer(stack: Stack) -> None:
    # Given a file dropped into incoming/, tagged as alice's, and a URL she signed for it
    s3 = boto3.client("s3")
    key = "incoming/url-test/photo.png"
    s3.put_object(Bucket=stack.bucket, Key=key, Body=image_bytes("PNG", 64, 48), ContentType="image/png")

    def tag(owner: str) -> None:
        s3.put_object_tagging(Bucket=stack.bucket, Key=key, Tagging={"TagSet": [{"Key": OWNER_TAG, "Value": owner}]})

    tag(stack.api.tenant)
    path = sign(stack, incoming_image_id(key), [{"function_type": "grayscale"}])["path"]
    # Then it renders while the tag names her
    assert get(stack, path)["headers"]["X-Pixelmill-Cache"] == "miss"
    for cached in cache_keys(stack):
        s3.delete_object(Bucket=stack.bucket, Key=cached)
    # And once the tag names someone else, or the file is gone, her URL answers 404 and caches nothing
    tag(stack.api.as_caller(BOB).tenant)
    assert problem(get(stack, path))["status"] == 404
    s3.delete_object(Bucket=stack.bucket, Key=key)
    assert problem(get(stack, path))["status"] == 404
    assert cache_keys(stack) == []


def test_an_expired_url_is_forbidden(stack: Stack) -> None:
    image_id = stack.upload(image_bytes("PNG", 64, 48), "image/png")
    url = sign(stack, image_id, [{"function_type": "grayscale"}], expires_in=1)
    assert "/expires:" in url["path"]
    assert url["expires_at"]
    assert get(stack, url["path"])["statusCode"] == 200
    expired = url["path"].replace(f"expires:{url['expires_at']}", "expires:1000")  # moved: the signature breaks
    assert get(stack, expired)["statusCode"] == 403


def test_bad_sources_and_results_are_4xx(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file that is not an image: 415; an image over the pixel limit: 422 with the reason
    not_image = stack.upload(b"%PDF-1.4 not an image", "image/png")
    path = sign(stack, not_image, [{"function_type": "grayscale"}])["path"]
    assert get(stack, path)["statusCode"] == 415
    big = stack.upload(image_bytes("PNG", 400, 300), "image/png")
    path = sign(stack, big, [{"function_type": "grayscale"}])["path"]
    monkeypatch.setenv("PIXELMILL_MAX_SOURCE_PIXELS", "1000")
    get_settings.cache_clear()
    refused = get(stack, path)
    assert refused["statusCode"] == 422
    assert "pixels" in problem(refused)["detail"]
    assert cache_keys(stack) == []


def test_api_refuses_steps_urls_cannot_carry(stack: Stack) -> None:
    image_id = stack.upload(image_bytes("PNG", 64, 48), "image/png")
    for steps, field in [
        ([{"function_type": "pipeline", "function_args": {}}], "steps[0]"),
        ([{"function_type": "resize", "function_args": {"width": -1}}], "steps[0].width"),
        ([{"function_type": "to_cog"}], "steps[0]"),
    ]:
        response = stack.api.post("/api/urls/", json_body={"image_id": image_id, "steps": steps})
        assert response.status == 400, response.body
        assert response.json()["errors"][0]["field"] == field
    functions = {entry["name"]: entry["usable_in_urls"] for entry in stack.api.get("/api/functions/").json()}
    assert functions["resize"]
    assert not functions["pipeline"]


def test_over_budget_or_too_large_for_a_response_is_a_problem(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    image_id = stack.upload(image_bytes("PNG", 400, 300), "image/png")
    path = sign(stack, image_id, [{"function_type": "blur", "function_args": {"radius": 5}}])["path"]
    # A result larger than a response can carry: 413
    monkeypatch.setattr("pixelmill.logic.image_urls.MAX_RESPONSE_BYTES", 100)
    too_large = get(stack, path)
    assert too_large["statusCode"] == 413
    assert problem(too_large)["type"].endswith("response_too_large")
    monkeypatch.undo()
    # A render over its time budget: 422
    monkeypatch.setenv("PIXELMILL_RENDER_TIMEOUT_SECONDS", "0.000001")
    get_settings.cache_clear()
    slow = get(stack, path)
    assert slow["statusCode"] == 422
    assert problem(slow)["type"].endswith("timeout")
    assert cache_keys(stack) == []


def test_urls_signed_before_a_rotation_keep_working(stack: Stack) -> None:
    # Given a URL signed with the current key
    image_id = stack.upload(image_bytes("PNG", 64, 48), "image/png")
    before = sign(stack, image_id, [{"function_type": "grayscale"}])["path"]
    # When the secret is rotated (put-secret-value: the old value becomes AWSPREVIOUS)
    secret = get_settings().signing_secret_id
    boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="n" * 64)
    get_stores.cache_clear()  # the functions read the secret again within five minutes
    # Then the old URL still renders, and new URLs are signed with the new key
    assert get(stack, before)["statusCode"] == 200
    after = sign(stack, image_id, [{"function_type": "grayscale"}])["path"]
    assert after != before
    assert get(stack, after)["statusCode"] == 200
    # And after a second rotation the first key is gone
    boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="m" * 64)
    get_stores.cache_clear()
    assert get(stack, before)["statusCode"] == 403


def test_the_signing_keys_are_read_once_per_five_minutes(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the signing keys as a function holds them, read at minute 0
    now = [1000.0]
    monkeypatch.setattr("pixelmill.dal.secrets.time", SimpleNamespace(monotonic=lambda: now[0]))
    client = boto3.client("secretsmanager")
    keys = SigningKeys(client, get_settings().signing_secret_id)
    before = keys.keys()
    # When the secret is rotated
    client.put_secret_value(SecretId=get_settings().signing_secret_id, SecretString="r" * 64)
    # Then requests in the next five minutes verify with the keys already read (no call to Secrets Manager)
    now[0] += 299
    assert keys.keys() == before
    # And after five minutes the new key is read, the old one still accepted as the previous
    now[0] += 2
    assert keys.keys() == (b"r" * 64, before[0])
