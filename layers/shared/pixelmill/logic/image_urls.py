"""Signed image URLs: sign them for an image's owner, and render what they ask for.

``/img/{signature}/{signed}`` (grammar in ``models/image_url.py``). The
signature is HMAC-SHA256, keyed with the stack's signing secret, over
``{signed}`` exactly as it stands in the URL, in unpadded base64url. What is
signed names the owner of the image, so a URL only ever reads the key
``uploads|results/<owner>/<image_id>`` of the owner who signed it, and the
optional expiry time, so it cannot be extended.

A render is cached in S3 under ``cache/<owner>/<image digest>/<hash>``, the hash
of the steps and the negotiated format, in the image's own folder (deleting a
task's result deletes its renders); a hit is served without transforming.

A render is served no longer than its source is kept: it is cached with the time
S3's lifecycle rule expires the source, a hit after that time is looked up again
at the source (which may have been written again since), a source past that time
is not found (S3 removes expired objects a while later), and ``Cache-Control``
lets CDNs and browsers keep a render at most until then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from pixelmill.catalog import field_errors, registry
from pixelmill.catalog.pipeline import Pipeline
from pixelmill.errors import (
    FieldError,
    InvalidRequest,
    InvalidSignature,
    NotFound,
    ResponseTooLarge,
)
from pixelmill.logic.processing import deadline
from pixelmill.logic.tasks import owned_image
from pixelmill.models.ids import RESULTS_PREFIX, image_key, is_incoming, render_cache_prefix
from pixelmill.models.image_url import (
    AUTO_FORMAT,
    ImagePath,
    ImageUrl,
    ImageUrlCreate,
    UrlStep,
    parse_image_path,
    url_value,
)
from pixelmill.observability import logger
from pixelmill.settings import Settings
from pixelmill.stores import FetchedImage, Stores
from pixelmill.transforms import Limits

URL_PREFIX = "/img/"

NEGOTIATED_FORMATS = ("avif", "webp", "jpeg")
"""What ``format=auto`` becomes, best first: the first the client accepts; JPEG for every client."""

# Lambda returns at most 6 MB (6,291,456 bytes) of response, and a binary body goes base64-encoded
# (4 characters per 3 bytes); headers and the JSON envelope take a few hundred more.
MAX_RESPONSE_BYTES = (6 * 1024 * 1024 - 16 * 1024) * 3 // 4


SOURCE_EXPIRES = "source-expires"
"""The cached render's metadata: when the source expires (Unix seconds)."""


@dataclass(frozen=True)
class RenderedImage:
    """An image URL's answer, and for how many seconds it may be kept (``Cache-Control: max-age``)."""

    data: bytes
    content_type: str
    etag: str
    cache_hit: bool
    max_age: int


def source_expiry(source_key: str, written: datetime, settings: Settings) -> float:
    """When S3's lifecycle rule expires the source at ``source_key`` written at ``written`` (Unix seconds).

    S3 adds the rule's days to the time an object was written and rounds up to the next
    midnight UTC; results have their rule, uploads and incoming files theirs.
    """
    days = settings.result_retention_days if source_key.startswith(RESULTS_PREFIX) else settings.upload_retention_days
    due = written.astimezone(UTC) + timedelta(days=days)
    midnight = due.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight if midnight == due else midnight + timedelta(days=1)).timestamp()


def _max_age(expires: float | None, now: float, settings: Settings) -> int:
    """``Cache-Control``'s max-age: the configured one, cut to the source's time left."""
    configured = settings.image_cache_max_age_seconds
    return configured if expires is None else max(0, min(configured, int(expires - now)))


def _cached_source_expiry(cached: FetchedImage) -> float | None:
    """The source's expiry a cached render was stored with (None for one cached without it)."""
    try:
        return float(cached.metadata[SOURCE_EXPIRES])
    except (KeyError, ValueError):
        return None


def sign(signed: str, key: bytes) -> str:
    """The signature of ``signed`` (the URL after the signature segment) with ``key``."""
    digest = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def verify(signature: str, signed: str, keys: Sequence[bytes], now: float) -> None:
    """InvalidSignature unless ``signature`` is ``signed``'s by one of ``keys`` and has not expired.

    Each comparison takes the same time wherever the strings differ (``hmac.compare_digest``),
    and every key is tried: the time says nothing about how much of a guess was right.
    """
    matches = [hmac.compare_digest(sign(signed, key).encode(), signature.encode()) for key in keys]
    if not any(matches):
        raise InvalidSignature("the image URL's signature is missing or wrong: sign it with POST /api/urls/")
    expires = parse_image_path(signed).expires
    if expires is not None and now >= expires:
        raise InvalidSignature("the image URL has expired: sign a new one with POST /api/urls/")


def negotiate_format(accept: str | None) -> str:
    """The format ``format=auto`` becomes for a client that sends ``accept``: AVIF, then WebP, else JPEG.

    Only explicit ``image/avif``/``image/webp`` entries with a quality above 0 count: a
    ``*/*`` says nothing of what a client decodes.
    """
    accepted = set()
    for item in (accept or "").split(","):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            accepted.add(media_type.lower())
    return next((fmt for fmt in NEGOTIATED_FORMATS if f"image/{fmt}" in accepted), "jpeg")


def uses_auto_format(path: ImagePath) -> bool:
    """Whether the answer depends on the Accept header."""
    return any(step.name == "convert" and step.args.get("format") == AUTO_FORMAT for step in path.steps)


def url_pipeline(steps: Sequence[UrlStep], fmt: str) -> Pipeline:
    """``steps`` as a pipeline of the catalog's own models (its arguments: no imaging library),
    ``format=auto`` read as ``fmt``.

    InvalidRequest names ``steps[i]`` for an unknown function, one URLs cannot use
    (raster functions, ``pipeline``), and each bad argument.
    """
    parsed: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if step.name not in registry:
            errors.append(FieldError(where, f"unknown function {step.name!r}"))
            continue
        if not registry.get(step.name).usable_in_urls:
            errors.append(FieldError(where, f"{step.name} cannot be a step of an image URL (photo functions only)"))
            continue
        args: dict[str, Any] = dict(step.args)
        if step.name == "convert" and args.get("format") == AUTO_FORMAT:
            args["format"] = fmt
        try:
            registry.get(step.name).model_validate(args)
        except ValidationError as error:
            errors.extend(field_errors(error, where))
            continue
        parsed.append({"function_type": step.name, "function_args": args})
    if not errors:
        try:
            return Pipeline.model_validate({"steps": parsed})
        except ValidationError as error:  # the options of the whole image (auto_orient …)
            errors = [FieldError(e.field, e.message) for e in field_errors(error, "")]
    raise InvalidRequest("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


def check_steps(path: ImagePath) -> None:
    """InvalidRequest unless every format ``format=auto`` may become renders ``path``'s steps."""
    for fmt in NEGOTIATED_FORMATS if uses_auto_format(path) else NEGOTIATED_FORMATS[-1:]:
        url_pipeline(path.steps, fmt)


def create_url(
    request: ImageUrlCreate, owner: str, stores: Stores, settings: Settings, base_url: str, *, now: float | None = None
) -> ImageUrl:
    """Sign an image URL for ``owner``'s image: NotFound if it is not theirs, InvalidRequest for bad steps."""
    steps = []
    for index, step in enumerate(request.steps):
        args = {key: url_value(value, f"steps[{index}].{key}") for key, value in step.function_args.items()}
        steps.append(UrlStep(step.function_type, args))
    issued = time.time() if now is None else now
    expires = None if request.expires_in is None else int(issued) + request.expires_in
    path = ImagePath(owner=owner, image_id=request.image_id, steps=tuple(steps), expires=expires)
    # Read back what was written: the URL is checked exactly as the render function will read it.
    check_steps(parse_image_path(path.format()))
    if owned_image(request.image_id, owner, stores) is None:
        raise NotFound(f"no image {request.image_id}")
    signed = path.format()
    url_path = f"{URL_PREFIX}{sign(signed, stores.signing_keys.keys()[0])}/{signed}"
    logger.info("image URL signed", extra={"image_id": request.image_id, "steps": path.steps_text})
    return ImageUrl(url=base_url.rstrip("/") + url_path, path=url_path, expires_at=expires)


def split_url_path(raw_path: str) -> tuple[str, str]:
    """``(signature, signed)`` of a raw URL path ``/img/{signature}/{signed}``; InvalidRequest otherwise."""
    if not raw_path.startswith(URL_PREFIX):
        raise InvalidRequest.for_field("path", f"image URLs start with {URL_PREFIX}")
    signature, slash, signed = raw_path.removeprefix(URL_PREFIX).partition("/")
    if not slash:
        raise InvalidRequest.for_field("path", "expected /img/{signature}/{steps}/{owner}/{image_id}")
    return signature, signed


def cache_key(path: ImagePath, fmt: str | None) -> str:
    """Where the render of ``path`` (in ``fmt`` when it negotiates one) is cached: in its image's folder."""
    identity = "\n".join([path.steps_text, fmt or ""])
    return render_cache_prefix(path.image_id, path.owner) + hashlib.sha256(identity.encode()).hexdigest()


def render(
    raw_path: str, accept: str | None, stores: Stores, settings: Settings, *, now: float | None = None
) -> RenderedImage:
    """The image ``raw_path`` (``/img/...``, still percent-encoded) asks for, from the cache or rendered.

    Malformed or refused steps: InvalidRequest (before the signature is looked at, so that a
    mistyped URL says what is wrong). Then InvalidSignature, NotFound for an image that is
    not the signer's, and the transform's own errors (limits, formats, time budget).
    Nothing is cached unless the render succeeded whole.
    """
    signature, signed = split_url_path(raw_path)
    path = parse_image_path(signed)
    fmt = negotiate_format(accept) if uses_auto_format(path) else None
    pipeline = url_pipeline(path.steps, fmt or NEGOTIATED_FORMATS[-1])
    now = time.time() if now is None else now
    verify(signature, signed, stores.signing_keys.keys(), now)

    key = cache_key(path, fmt)
    # The source is not asked for while the cache is looked up. On S3 that would take a round trip
    # off a render for an extra GET per hit; on the local stack, whose emulator is one Python
    # process (one request's work at a time), it made hits twice as slow for a few ms off a render.
    cached = stores.images.fetch(key)
    if cached is not None:
        expires = _cached_source_expiry(cached)
        if expires is None or now < expires:
            etag = f'"{cached.etag}"'
            return RenderedImage(cached.data, cached.content_type, etag, True, _max_age(expires, now, settings))
        # The source's time is up: it is (or is about to be) gone, and so is what was made of it.

    # Uploads and results are under their owner's prefix: reading the key is the ownership check.
    # A file under incoming/ names its owner in a tag (no HEAD first: the GET finds a missing file).
    source_key = image_key(path.image_id, path.owner)
    if is_incoming(path.image_id) and stores.images.owner_tag(source_key) != path.owner:
        raise NotFound(f"no image {path.image_id}")
    source = stores.images.fetch(source_key, max_bytes=settings.max_upload_bytes)
    if source is None:
        raise NotFound(f"no image {path.image_id}")
    expires = source_expiry(source_key, source.last_modified, settings)
    if now >= expires:
        raise NotFound(f"no image {path.image_id}: it has expired")
    # The implementation, loaded only here (RenderFunction has the imaging layer; the API does not).
    runnable = registry.load(pipeline.name, pipeline.model_dump(exclude_unset=True))
    with deadline(settings.render_timeout_seconds):
        rendered = runnable.run(source.data, Limits.from_settings(settings))
    if len(rendered.data) > MAX_RESPONSE_BYTES:
        raise ResponseTooLarge(
            f"the result has {len(rendered.data)} bytes, over the {MAX_RESPONSE_BYTES} a response can carry: "
            "ask for a smaller size or a lossy format"
        )
    stores.images.put(key, rendered.data, rendered.content_type, {SOURCE_EXPIRES: str(int(expires))})
    etag = f'"{hashlib.md5(rendered.data, usedforsecurity=False).hexdigest()}"'  # S3's ETag of a single PUT
    return RenderedImage(rendered.data, rendered.content_type, etag, False, _max_age(expires, now, settings))
