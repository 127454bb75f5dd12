"""Starting uploads and describing images."""

from __future__ import annotations

import json

from pixelmill.catalog import Limits, registry
from pixelmill.errors import InvalidRequest, NotFound
from pixelmill.logic.tasks import check_quota, owned_image
from pixelmill.models.ids import image_key, new_image_id
from pixelmill.models.image import ImagePublic, ImageUpload, ImageUploadCreate, PresignedPost
from pixelmill.models.ingest import FUNCTION_ARGS_METADATA, FUNCTION_TYPE_METADATA
from pixelmill.settings import Settings
from pixelmill.stores import Stores

# S3 keeps at most 2 KB of user metadata (names and values, UTF-8 bytes).
MAX_METADATA_BYTES = 2048


def create_upload(request: ImageUploadCreate, owner: str, stores: Stores, settings: Settings) -> ImageUpload:
    """A new image id of ``owner``'s and a presigned POST for it, limited to the type and size allowed.

    The upload goes to ``uploads/<owner>/``: the policy fixes the key, so the
    form cannot be changed to write anywhere else. With a ``function_type`` the
    validated request travels in the upload's metadata (fixed by the policy too),
    and IngestFunction creates the task, ``owner``'s, when the file arrives.
    """
    metadata = _task_metadata(request, settings)
    if metadata is not None:
        check_quota(owner, stores, settings)  # refused now rather than as a failed task later
    image_id = new_image_id()
    key = image_key(image_id, owner)
    post = stores.images.presign_upload(
        key, request.content_type, settings.max_upload_bytes, settings.upload_url_expires_seconds, metadata
    )
    return ImageUpload(
        image_id=image_id,
        upload=PresignedPost(url=post.url, fields=post.fields),
        max_bytes=settings.max_upload_bytes,
        expires_in=settings.upload_url_expires_seconds,
    )


def _task_metadata(request: ImageUploadCreate, settings: Settings) -> dict[str, str] | None:
    """The S3 metadata asking IngestFunction for the request's task, validated like
    POST /api/tasks/ (InvalidRequest naming the field); None when no task is asked for."""
    if request.function_type is None:
        if request.function_args is not None:
            raise InvalidRequest.for_field("function_type", "function_args was given without a function_type")
        return None
    function = registry.parse(request.function_type, request.function_args or {}, Limits.from_settings(settings))
    arguments = json.dumps(function.model_dump(mode="json", exclude_unset=True), separators=(",", ":"))
    metadata = {FUNCTION_TYPE_METADATA: request.function_type, FUNCTION_ARGS_METADATA: arguments}
    if sum(len(name.encode()) + len(value.encode()) for name, value in metadata.items()) > MAX_METADATA_BYTES:
        raise InvalidRequest.for_field(
            "function_args", f"too long to travel with the upload (S3 keeps {MAX_METADATA_BYTES} bytes of metadata)"
        )
    return metadata


def get_image(image_id: str, owner: str, stores: Stores, settings: Settings) -> ImagePublic:
    """What is stored under ``owner``'s ``image_id``; NotFound if nothing (yet), or another owner's."""
    try:
        stored = owned_image(image_id, owner, stores)
    except ValueError:  # not an id image_key can turn into a key
        raise InvalidRequest.for_field("image_id", "not an image id of this service") from None
    if stored is None:
        raise NotFound(f"no image {image_id}")
    return ImagePublic(
        image_id=image_id,
        content_type=stored.content_type,
        size=stored.size,
        created_at=stored.last_modified,
        url=stores.images.presign_download(stored.key, settings.download_url_expires_seconds),
        expires_in=settings.download_url_expires_seconds,
    )
