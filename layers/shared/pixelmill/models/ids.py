"""Identifiers: time-sortable task ids (ULID) and image ids confined to our prefixes."""

from __future__ import annotations

import os
import re
import time
import uuid
from typing import Annotated

from pydantic import Field

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

TASK_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
UPLOAD_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
RESULT_ID_PATTERN = r"^res-[0-9A-HJKMNP-TV-Z]{26}$"
IMAGE_ID_PATTERN = f"({UPLOAD_ID_PATTERN})|({RESULT_ID_PATTERN})"

TaskId = Annotated[str, Field(pattern=TASK_ID_PATTERN, description="Task id (ULID: sorts by creation time).")]
ImageId = Annotated[
    str,
    Field(
        pattern=IMAGE_ID_PATTERN,
        description="Image id: an upload's UUIDv7 from POST /api/images/, or a task result's `res-<task_id>`.",
        examples=["0197e45a-8fc5-7848-9c9f-56cc0ae0a087"],
    ),
]

UPLOADS_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"


def new_task_id(now_ms: int | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


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


def image_key(image_id: str) -> str:
    """The S3 key of an image id; refuses anything that is not one of ours."""
    if re.fullmatch(UPLOAD_ID_PATTERN, image_id):
        return UPLOADS_PREFIX + image_id
    if re.fullmatch(RESULT_ID_PATTERN, image_id):
        return RESULTS_PREFIX + image_id
    raise ValueError(f"not a pixelmill image id: {image_id!r}")
