"""Signed image URL benchmark on the local stack: what serving a URL costs beyond the transform.

A 24 MP JPEG is uploaded to a local stack (`make dev`'s, on free ports) and a URL signed
for an 800 px WebP. In interleaved rounds, medians of:

- the transform alone: the same steps' ``run()`` on the same bytes, in this process;
- a render: GET of the URL over HTTP with its cached result deleted first (the deletion is
  not timed): gateway, function process, signature, S3 reads and write, the transform;
- a cache hit: the same GET again.

Targets: a render at most 1.15x the transform alone; a hit at least 10x faster than a render.

Then what a render cannot do without, each timed from here in the same rounds: a refused URL
(a wrong signature: the gateway and the function process, no S3), and the render's three S3
calls (the cache lookup that misses, the source's GET, the cache write of a result's size).
With the transform they make the floor a render could reach on this stack.
Run with ``make bench``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.photo import encoded, photo
from bench.timing import timed
from pixelmill.catalog import registry
from pixelmill.logic.image_urls import url_pipeline
from pixelmill.models.ids import image_key
from pixelmill.models.image_url import parse_image_path
from pixelmill.settings import Settings
from pixelmill.transforms import Limits
from tests.e2e.conftest import start_stack
from tests.e2e.test_local_stack import upload

ROUNDS = 11
MAX_RENDER_OVERHEAD = 1.15
MIN_HIT_SPEEDUP = 10.0


def _missing(s3: Any, bucket: str, key: str) -> None:
    """GET a key that is not there, as the cache lookup of a render does."""
    try:
        s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return
    raise AssertionError(f"{key} exists")


def main() -> None:
    source = encoded(photo(6000, 4000), "JPEG", quality=90)
    steps = [
        {"function_type": "resize", "function_args": {"width": 800}},
        {"function_type": "convert", "function_args": {"format": "webp"}},
    ]
    with tempfile.TemporaryDirectory() as directory:
        stack = start_stack(Path(directory) / "stack.log")
        try:
            image_id = upload(stack, source)
            signed = stack.session.post(f"{stack.api}/urls/", json={"image_id": image_id, "steps": steps}, timeout=30)
            signed.raise_for_status()
            url, path = signed.json()["url"], signed.json()["path"]
            parsed = parse_image_path(path.split("/", 3)[3])
            arguments = url_pipeline(parsed.steps, "jpeg")
            pipeline = registry.load(arguments.name, arguments.model_dump(exclude_unset=True))
            limits = Limits.from_settings(Settings())
            s3 = stack.client("s3")
            bucket = s3.list_buckets()["Buckets"][0]["Name"]

            def clear_cache() -> None:
                for item in s3.list_objects_v2(Bucket=bucket, Prefix="cache/").get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])

            def get(expected: str) -> None:
                response = requests.get(url, timeout=60)
                response.raise_for_status()
                assert response.headers["X-Pixelmill-Cache"] == expected, response.headers

            refused_url = url.replace("/img/", "/img/A", 1)

            def refused() -> None:
                assert requests.get(refused_url, timeout=60).status_code == 403

            source_key = image_key(parsed.image_id, parsed.owner)
            result = pipeline.run(source, limits).data
            s3_calls: dict[str, Callable[[], object]] = {
                "lookup": lambda: _missing(s3, bucket, "cache/none"),
                "source": lambda: s3.get_object(Bucket=bucket, Key=source_key)["Body"].read(),
                "write": lambda: s3.put_object(Bucket=bucket, Key="cache/bench", Body=result, ContentType="image/webp"),
            }
            get("miss")  # warm: the function's imports, the secret, the codecs
            transforms, renders, hits, refusals = [], [], [], []
            calls: dict[str, list[float]] = {name: [] for name in s3_calls}
            for _ in range(ROUNDS):
                transforms.append(timed(lambda: pipeline.run(source, limits)))
                clear_cache()
                renders.append(timed(lambda: get("miss")))
                hits.append(timed(lambda: get("hit")))
                refusals.append(timed(refused))
                for name, call in s3_calls.items():
                    calls[name].append(timed(call))
        finally:
            stack.stop()
    transform, render, hit, hop = (statistics.median(times) for times in (transforms, renders, hits, refusals))
    call_medians = {name: statistics.median(times) for name, times in calls.items()}
    floor = (transform + hop + sum(call_medians.values())) / transform
    overhead, speedup = render / transform, render / hit
    print(  # noqa: T201
        f"image URLs on the local stack, 24 MP JPEG ({len(source) / 1e6:.1f} MB) -> 800 px WebP "
        f"(medians of {ROUNDS} interleaved rounds)\n"
        f"  transform alone {transform * 1000:6.0f} ms\n"
        f"  render via URL  {render * 1000:6.0f} ms  {overhead:5.2f}x the transform (target <= {MAX_RENDER_OVERHEAD}x)\n"
        f"  cache hit       {hit * 1000:6.0f} ms  {speedup:5.1f}x faster than a render (target >= {MIN_HIT_SPEEDUP}x)\n"
        f"  a render's floor here: the transform, a refused URL ({hop * 1000:.1f} ms) and the S3 calls ("
        + ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in call_medians.items())
        + f"): {floor:5.2f}x the transform"
    )
    if overhead > MAX_RENDER_OVERHEAD or speedup < MIN_HIT_SPEEDUP:
        print("image URL targets not met")  # noqa: T201
        sys.exit(1)


if __name__ == "__main__":
    main()
