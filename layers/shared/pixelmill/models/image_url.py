"""Signed image URLs: the path grammar, and the API's request and response models.

A URL is ``/img/{signature}/{signed}``; the signature is an HMAC of ``{signed}``
exactly as it stands in the URL (see ``logic/image_urls.py``). Grammar of
``{signed}`` (ABNF; ``ALPHA``/``DIGIT`` as in RFC 5234)::

    signed  = [ "expires:" 1*DIGIT "/" ] steps "/" owner "/" image-id
    steps   = step *( "/" step )                  ; at most MAX_URL_STEPS
    step    = name [ ":" arg *( "," arg ) ]
    arg     = name "=" value                      ; each name once per step
    name    = LOWER *( LOWER / DIGIT / "_" )
    value   = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / pct-encoded )
    owner   = 12*128( ALPHA / DIGIT )             ; the tenant the image belongs to
    image-id = an image id (``uuidv7``, ``res-<task id>`` or ``in-<base64url>``)

Examples::

    resize:width=800
    resize:width=800,fit=cover/convert:format=webp,quality=75
    expires:1767225600/thumbnail:width=200,height=200/grayscale/convert:format=auto

Values are text, read by the function's own argument model as a JSON body's
strings would be in lax mode: ``800`` is an integer, ``true``/``false`` booleans.
Anything else than letters, digits and ``-._~`` in a value is percent-encoded
(``%2C`` for a comma, ``%2F`` for a slash), so ``:``, ``,``, ``=`` and ``/``
only ever separate. Arguments that are lists or objects have no URL form, and
``pipeline`` is not a step: steps already chain. ``format=auto`` in ``convert``
picks AVIF, WebP or JPEG from the request's ``Accept`` header.

There is one spelling of each URL (the formatter sorts nothing and adds
nothing): what the signer wrote is what the verifier reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from pydantic import BaseModel, Field

from pixelmill.errors import FieldError, InvalidRequest
from pixelmill.models.ids import ImageId, check_image_id
from pixelmill.models.tenant import TENANT_PATTERN

MAX_URL_STEPS = 10
"""Most steps in one URL: each is a full image in memory while the render runs."""
MAX_SIGNED_PATH_CHARS = 2048
"""Longest ``{signed}`` part: CloudFront accepts URLs of up to 8192 bytes."""
EXPIRES = "expires"
AUTO_FORMAT = "auto"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VALUE = re.compile(r"^(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+$")


@dataclass(frozen=True)
class UrlStep:
    """One step: a function's name and its arguments as text (the model converts them)."""

    name: str
    args: dict[str, str] = field(default_factory=dict)

    def format(self) -> str:
        """This step in the URL's grammar."""
        if not self.args:
            return self.name
        return self.name + ":" + ",".join(f"{key}={quote(value, safe='')}" for key, value in self.args.items())


@dataclass(frozen=True)
class ImagePath:
    """What a signed path says: which image of whose, through which steps, until when."""

    owner: str
    image_id: str
    steps: tuple[UrlStep, ...]
    expires: int | None = None

    def format(self) -> str:
        """The ``{signed}`` part of the URL."""
        parts = [f"{EXPIRES}:{self.expires}"] if self.expires is not None else []
        parts += [step.format() for step in self.steps]
        return "/".join([*parts, self.owner, self.image_id])

    @property
    def steps_text(self) -> str:
        """The steps alone, as in the URL."""
        return "/".join(step.format() for step in self.steps)


def _bad(field_name: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field_name}: {message}", [FieldError(field_name, message)])


def parse_step(text: str, index: int) -> UrlStep:
    """One ``name[:key=value,...]`` segment; InvalidRequest naming ``steps[index]``."""
    where = f"steps[{index}]"
    name, colon, arguments = text.partition(":")
    if not _NAME.fullmatch(name):
        raise _bad(where, f"{text!r} is not a step: expected name[:key=value,...]")
    args: dict[str, str] = {}
    if colon:
        for pair in arguments.split(","):
            key, equals, value = pair.partition("=")
            if not equals or not _NAME.fullmatch(key) or not _VALUE.fullmatch(value):
                raise _bad(where, f"{pair!r} is not key=value (percent-encode anything but letters, digits and -._~)")
            if key in args:
                raise _bad(f"{where}.{key}", "given more than once")
            try:
                args[key] = unquote(value, errors="strict")
            except UnicodeDecodeError:
                raise _bad(f"{where}.{key}", "not UTF-8 once percent-decoded") from None
    return UrlStep(name, args)


def parse_image_path(signed: str) -> ImagePath:
    """Read the ``{signed}`` part of an image URL; InvalidRequest naming what is malformed."""
    if len(signed) > MAX_SIGNED_PATH_CHARS:
        raise _bad("path", f"longer than {MAX_SIGNED_PATH_CHARS} characters")
    segments = signed.split("/")
    expires = None
    if segments and segments[0].startswith(EXPIRES + ":"):
        value = segments.pop(0).removeprefix(EXPIRES + ":")
        if not value.isdigit() or len(value) > 12:
            raise _bad("expires", "expected seconds since 1970 (UTC)")
        expires = int(value)
    if len(segments) < 3:
        raise _bad("path", "expected {steps}/{owner}/{image_id} after the signature")
    *step_texts, owner, image_id = segments
    if not re.fullmatch(TENANT_PATTERN, owner):
        raise _bad("owner", "not a tenant id")
    try:
        check_image_id(image_id)
    except ValueError:
        raise _bad("image_id", "not an image id") from None
    if len(step_texts) > MAX_URL_STEPS:
        raise _bad("steps", f"{len(step_texts)} steps; at most {MAX_URL_STEPS}")
    steps = tuple(parse_step(text, index) for index, text in enumerate(step_texts))
    return ImagePath(owner=owner, image_id=image_id, steps=steps, expires=expires)


def url_value(value: Any, where: str) -> str:
    """A JSON argument value as URL text; lists and objects have no URL form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str) and str(value) != "":
        return str(value)
    raise _bad(where, "only a number, a boolean or a non-empty string can be in an image URL")


# ---------------------------------------------------------------- the API's models


class UrlStepCreate(BaseModel):
    """One step of an image URL, as in a task: a photo function and its arguments."""

    function_type: str = Field(max_length=64, examples=["resize"])
    function_args: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        max_length=20,
        description="Arguments, as for a task; only numbers, booleans and strings (no lists or objects).",
        examples=[{"width": 800, "fit": "cover"}],
    )


class ImageUrlCreate(BaseModel):
    """What to sign: an image of the caller's and the steps to render it through."""

    image_id: ImageId
    steps: list[UrlStepCreate] = Field(
        min_length=1,
        max_length=MAX_URL_STEPS,
        description="Photo functions applied in order (see `url` in GET /api/functions/); "
        'convert with {"format": "auto"} picks AVIF, WebP or JPEG from the Accept header.',
        examples=[
            [
                {"function_type": "resize", "function_args": {"width": 800}},
                {"function_type": "convert", "function_args": {"format": "auto"}},
            ]
        ],
    )
    expires_in: int | None = Field(
        default=None,
        ge=1,
        le=10 * 365 * 86400,
        description="Seconds until the URL stops working; without it the URL does not expire.",
        examples=[86400],
    )


class ImageUrl(BaseModel):
    """A signed image URL, ready for an ``<img src>``."""

    url: str = Field(
        description="The URL: GET it (no AWS signature needed).",
        examples=["https://d111111abcdef8.cloudfront.net/img/q7P…/resize:width=800/AIDA…/0197e45a-…"],
    )
    path: str = Field(description="The URL's path, for use with another host name (a CDN alias).")
    expires_at: int | None = Field(description="When it stops working (seconds since 1970, UTC); null: never.")


def image_url_openapi() -> dict[str, Any]:
    """The OpenAPI path item of ``GET /img/...`` (RenderFunction, behind CloudFront: not an API route)."""

    def problem(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }

    def segment(name: str, description: str, pattern: str, example: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            "schema": {"type": "string", "pattern": pattern},
            "example": example,
        }

    return {
        "get": {
            "tags": ["images"],
            "summary": "An image rendered from a signed URL (served by the CloudFront distribution)",
            "description": (
                "Not an API route: the URLs POST /api/urls/ returns, on the distribution's host (the stack's "
                "`ImageUrlBase` output; locally the API's own host). No AWS signature: the URL's HMAC is the "
                "authorization. `{steps}` is one or more `name[:key=value,...]` joined by `/` (shown here as one "
                "segment), optionally after `expires:{unix time}/`; see the README for the grammar."
            ),
            "operationId": "get_image_url",
            "security": [],
            "parameters": [
                segment("signature", "HMAC-SHA256 of the rest of the path, base64url", "^[A-Za-z0-9_-]+$", "q7P…"),
                segment("steps", "The photo functions to apply", "^[a-z][a-z0-9_]*(:.*)?$", "resize:width=800"),
                segment("owner", "The image's owner (the signer's tenant)", "^[A-Za-z0-9]{12,128}$", "AIDAEXAMPLE0001"),
                segment("image_id", "The image", "^[A-Za-z0-9_-]+$", "0197e45a-8fc5-7848-9c9f-56cc0ae0a087"),
                {
                    "name": "Accept",
                    "in": "header",
                    "required": False,
                    "description": "With convert:format=auto: AVIF if accepted, else WebP, else JPEG",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The image; `X-Pixelmill-Cache` says hit or miss; `Vary: Accept`; immutable",
                    "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "400": problem("Malformed steps, an unknown or raster function, too many steps, bad arguments"),
                "403": problem("A missing, wrong or expired signature"),
                "404": problem("No such image of the signer's"),
                "413": problem("The result is too large for a response"),
                "415": problem("The source's format is not allowed"),
                "422": problem("Over the pixel limits or the render time budget"),
                "500": problem("Anything else (logged; never a stack trace)"),
            },
        }
    }
