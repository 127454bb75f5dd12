"""Images: starting an upload and describing a stored image."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

UploadContentType = Literal[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/jp2",
]


class ImageUploadCreate(BaseModel):
    """The body of POST /api/images/: the type of the file about to be uploaded and,
    optionally, the task to run as soon as it is uploaded."""

    model_config = ConfigDict(extra="forbid")

    content_type: UploadContentType = Field(
        description="Content-Type of the file; the presigned POST accepts only this type."
    )
    function_type: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description=(
            "Run this function on the file as soon as it is uploaded (the POST policy fixes it in the "
            "upload's metadata); the task is listed by GET /api/tasks/?image_id=<image_id>."
        ),
        examples=["thumbnail"],
    )
    function_args: dict[str, Any] | None = Field(
        default=None, description="Arguments of function_type (checked now, like POST /api/tasks/).", examples=[{}]
    )


class PresignedPost(BaseModel):
    """An HTML-form POST to S3: send ``fields`` first, then the file as field ``file``."""

    url: str
    fields: dict[str, Any]


class ImageUpload(BaseModel):
    """Where to upload an image: its id and a presigned POST that S3 enforces."""

    image_id: str
    upload: PresignedPost
    max_bytes: int = Field(description="Largest file the POST policy accepts.")
    expires_in: int = Field(description="Seconds the presigned POST stays valid.")


class ImagePublic(BaseModel):
    """A stored image: what S3 knows of it and a presigned download URL."""

    image_id: str
    content_type: str
    size: int = Field(description="Bytes.")
    created_at: datetime
    url: str = Field(description="Presigned download URL.")
    expires_in: int = Field(description="Seconds the download URL stays valid.")
