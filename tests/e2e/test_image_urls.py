"""Signed image URLs on the local stack over HTTP: signed by the API and by the CLI, served
unsigned (the HMAC is the authorization) at /img/... by RenderFunction, cached in S3."""

from __future__ import annotations

import io
from pathlib import Path

import requests
from PIL import Image

from tests.e2e.conftest import RunningStack
from tests.e2e.test_local_stack import run_pixelmill, upload
from tests.imagegen import jpeg_bytes

CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def test_an_img_src_renders_once_then_comes_from_the_cache(local_stack: RunningStack) -> None:
    # Given alice's 1200x800 JPEG and a URL she signed for an 300 px wide WebP
    image_id = upload(local_stack, jpeg_bytes(1200, 800))
    body = {
        "image_id": image_id,
        "steps": [
            {"function_type": "resize", "function_args": {"width": 300}},
            {"function_type": "convert", "function_args": {"format": "webp", "quality": 70}},
        ],
    }
    signed = local_stack.session.post(f"{local_stack.api}/urls/", json=body, timeout=30)
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"]
    assert url.startswith(f"http://127.0.0.1:{local_stack.api_port}/img/")
    # When a page loads it twice, with no AWS signature
    first = requests.get(url, headers={"Accept": CHROME_ACCEPT}, timeout=60)
    second = requests.get(url, headers={"Accept": CHROME_ACCEPT}, timeout=60)
    # Then it is a 300x200 WebP, rendered once and then served from the cache
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(first.content)) as image:
        assert (image.format, image.size) == ("WEBP", (300, 200))
    assert int(first.headers["Content-Length"]) == len(first.content) < 30_000
    assert first.headers["X-Pixelmill-Cache"] == "miss"
    assert second.headers["X-Pixelmill-Cache"] == "hit"
    assert second.content == first.content
    assert second.headers["ETag"] == first.headers["ETag"]
    assert first.headers["Vary"] == "Accept"
    assert "immutable" in first.headers["Cache-Control"]


def test_bad_image_urls_are_problems(local_stack: RunningStack) -> None:
    image_id = upload(local_stack, jpeg_bytes(64, 48))
    signed = local_stack.session.post(
        f"{local_stack.api}/urls/", json={"image_id": image_id, "steps": [{"function_type": "grayscale"}]}, timeout=30
    )
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"]
    signature = url.split("/img/")[1].split("/")[0]
    cases = {
        url.replace(signature, "A" * 43): 403,  # a wrong signature
        url.replace("/grayscale/", "/grayscale:radius=%ZZ/"): 400,  # malformed steps
        url.replace("/grayscale/", "/to_cog/"): 400,  # a raster function
        url.replace("/grayscale/", "/" + "/".join(["grayscale"] * 11) + "/"): 400,  # too many steps
    }
    for bad, status in cases.items():
        response = requests.get(bad, timeout=30)
        assert response.status_code == status, (bad, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == status
    # An image that is gone answers 404, and nobody signs a URL for an image that is not theirs
    assert local_stack.alice is not None
    s3 = local_stack.client("s3")
    s3.delete_object(
        Bucket=s3.list_buckets()["Buckets"][0]["Name"], Key=f"uploads/{local_stack.alice.user_id}/{image_id}"
    )
    gone = requests.get(url, timeout=30)
    assert gone.status_code == 404, gone.text
    bob = local_stack.new_caller("bob-urls").session()
    refused = bob.post(
        f"{local_stack.api}/urls/", json={"image_id": image_id, "steps": [{"function_type": "grayscale"}]}, timeout=30
    )
    assert refused.status_code == 404


def test_the_cli_signs_a_url(local_stack: RunningStack, tmp_path: Path) -> None:
    image_id = upload(local_stack, jpeg_bytes(400, 300))
    signed = run_pixelmill(local_stack, tmp_path, "url", image_id, "thumbnail", "--arg", "size=100", "--format", "auto")
    assert signed.returncode == 0, signed.stderr
    url = signed.stdout.strip()
    assert "/thumbnail:size=100/convert:format=auto/" in url
    avif = requests.get(url, headers={"Accept": CHROME_ACCEPT}, timeout=60)
    jpeg = requests.get(url, headers={"Accept": "*/*"}, timeout=60)
    assert avif.status_code == 200, avif.text
    assert avif.headers["Content-Type"] == "image/avif"
    assert jpeg.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(jpeg.content)) as image:
        assert max(image.size) == 100
