"""Identifiers: time-sortable task ids (ULID) and image ids confined to our prefixes.

Three kinds of image id, each the name of one key under one prefix and nothing else.
An image id means a key only together with its owner (a tenant): the same id
asked for by another tenant is another key, which does not exist.

- ``<uuidv7>`` → ``uploads/<owner>/<uuidv7>`` (POST /api/images/);
- ``res-<task_id>`` → ``results/<owner>/res-<task_id>`` (a task's result);
- ``in-<base64url>`` → ``incoming/<name>``, a file an IAM principal dropped into
  ``incoming/`` under a name of its choosing (anything S3 allows: the base64url
  of its UTF-8 bytes keeps the id URL-safe, and the decoded key can only ever be
  under ``incoming/``). Its owner is not in its key: IngestFunction tags the
  object with it (``OWNER_TAG``).

The renders of an image that image URLs cache are under ``cache/<owner>/``, in a
folder of their own per image (``render_cache_prefix``), so that deleting a result
deletes its renders too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from pixelmill.models.tenant import TENANT_PATTERN

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

TASK_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
UPLOAD_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
RESULT_ID_PATTERN = r"^res-[0-9A-HJKMNP-TV-Z]{26}$"
UPLOADS_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"
INCOMING_PREFIX = "incoming/"
CACHE_PREFIX = "cache/"
# S3 keys are at most 1024 UTF-8 bytes: what follows incoming/ is at most 1015, 1354 in base64.
_MAX_INCOMING_NAME_BYTES = 1024 - len(INCOMING_PREFIX)
INCOMING_ID_PATTERN = r"^in-[A-Za-z0-9_-]{2,1354}$"
IMAGE_ID_PATTERN = f"({UPLOAD_ID_PATTERN})|({RESULT_ID_PATTERN})|({INCOMING_ID_PATTERN})"


# The S3 object tag that names the owner of a file under incoming/ (set by IngestFunction).
OWNER_TAG = "pixelmill-owner"


def _is_image_id(value: str) -> str:
    check_image_id(value)  # the pattern cannot tell a well-formed base64 name from a broken one
    return value


TaskId = Annotated[str, Field(pattern=TASK_ID_PATTERN, description="Task id (ULID: sorts by creation time).")]
ImageId = Annotated[
    str,
    Field(
        pattern=IMAGE_ID_PATTERN,
        description=(
            "Image id: an upload's UUIDv7 from POST /api/images/, a task result's `res-<task_id>`, "
            "or `in-<base64url of the name>` for a file under incoming/."
        ),
        examples=["0197e45a-8fc5-7848-9c9f-56cc0ae0a087"],
    ),
    AfterValidator(_is_image_id),
]


def new_task_id(now_ms: int | None = None, entropy: bytes | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32.

    ``entropy`` (10 bytes) replaces the random bits, for an id derived from
    something else (an upload's identity, so that its duplicates get the same id).
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    if entropy is not None and len(entropy) != 10:
        raise ValueError("a ULID's entropy is 10 bytes")
    value = (ms << 80) | int.from_bytes(os.urandom(10) if entropy is None else entropy, "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def task_id_time(task_id: str) -> datetime:
    """When a task id (a ULID) was made: its first 48 bits are Unix milliseconds."""
    value = 0
    for character in task_id[:10]:
        value = value * 32 + _CROCKFORD.index(character)
    return datetime.fromtimestamp(value / 1000, UTC)


def new_image_id(now_ms: int | None = None) -> str:
    """A UUIDv7 (RFC 9562): time-ordered, so uploads list in creation order."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def result_image_id(task_id: str) -> str:
    """The id of a task's result: derived from the task, so a retry overwrites it."""
    return f"res-{task_id}"


def incoming_image_id(key: str) -> str:
    """The image id of the object ``key`` under ``incoming/``; ValueError for any other key."""
    name = key.removeprefix(INCOMING_PREFIX).encode()
    if not key.startswith(INCOMING_PREFIX) or not name or len(name) > _MAX_INCOMING_NAME_BYTES:
        raise ValueError(f"not the key of a file under {INCOMING_PREFIX}: {key!r}")
    return "in-" + base64.urlsafe_b64encode(name).decode().rstrip("=")


def _incoming_key(image_id: str) -> str | None:
    """``incoming/<name>`` for an ``in-`` id that encodes a name exactly (one id per key), else None."""
    encoded = image_id.removeprefix("in-")
    try:
        name = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        text = name.decode()
    except (binascii.Error, ValueError):
        return None
    if not text or len(name) > _MAX_INCOMING_NAME_BYTES:
        return None
    # Refuse the non-canonical spellings of a name (stray low bits): one key, one id.
    if base64.urlsafe_b64encode(name).decode().rstrip("=") != encoded:
        return None
    return INCOMING_PREFIX + text


def check_image_id(image_id: str) -> None:
    """Refuse (ValueError) anything that is not an image id of ours."""
    if re.fullmatch(UPLOAD_ID_PATTERN, image_id) or re.fullmatch(RESULT_ID_PATTERN, image_id):
        return
    if re.fullmatch(INCOMING_ID_PATTERN, image_id) and _incoming_key(image_id) is not None:
        return
    raise ValueError(f"not a pixelmill image id: {image_id!r}")


def is_incoming(image_id: str) -> bool:
    """Whether ``image_id`` names a file under ``incoming/`` (whose owner is in a tag, not in its key)."""
    return image_id.startswith("in-")


def _check_image_of(image_id: str, owner: str) -> None:
    """ValueError unless ``image_id`` is one of ours and ``owner`` a tenant: what keys are made of."""
    check_image_id(image_id)
    if not re.fullmatch(TENANT_PATTERN, owner):
        raise ValueError(f"not a tenant: {owner!r}")


def image_key(image_id: str, owner: str) -> str:
    """The S3 key of ``owner``'s image ``image_id``; refuses anything that is not one of ours.

    Uploads and results live under their owner's prefix; a file under
    ``incoming/`` is where its uploader put it (its owner is checked on its tag).
    """
    _check_image_of(image_id, owner)
    if is_incoming(image_id):
        key = _incoming_key(image_id)
        assert key is not None  # check_image_id
        return key
    prefix = UPLOADS_PREFIX if re.fullmatch(UPLOAD_ID_PATTERN, image_id) else RESULTS_PREFIX
    return f"{prefix}{owner}/{image_id}"


def render_cache_prefix(image_id: str, owner: str) -> str:
    """The folder of the cached renders of ``owner``'s image ``image_id``: ``cache/<owner>/<digest>/``.

    The digest (of the image id) keeps keys short: an incoming id can be longer than an S3 key may be.
    """
    _check_image_of(image_id, owner)
    return f"{CACHE_PREFIX}{owner}/{hashlib.sha256(image_id.encode()).hexdigest()[:32]}/"


def owner_of_upload_key(key: str) -> tuple[str, str] | None:
    """``(owner, image_id)`` of a key ``uploads/<owner>/<uuidv7>``, else None."""
    owner, slash, image_id = key.removeprefix(UPLOADS_PREFIX).partition("/")
    if (
        key.startswith(UPLOADS_PREFIX)
        and slash
        and re.fullmatch(TENANT_PATTERN, owner)
        and re.fullmatch(UPLOAD_ID_PATTERN, image_id)
    ):
        return owner, image_id
    return None
