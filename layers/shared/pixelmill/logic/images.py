"""Starting uploads and describing images."""

from __future__ import annotations

from pixelmill.dal import Stores
from pixelmill.errors import NotFound
from pixelmill.models.ids import image_key, new_image_id
from pixelmill.models.image import ImagePublic, ImageUpload, ImageUploadCreate, PresignedPost
from pixelmill.settings import Settings


def create_upload(request: ImageUploadCreate, stores: Stores, settings: Settings) -> ImageUpload:
    """A new image id and a presigned POST for it, limited to the type and size allowed."""
    image_id = new_image_id()
    post = stores.images.presign_upload(
        image_key(image_id), request.content_type, settings.max_upload_bytes, settings.upload_url_expires_seconds
    )
    return ImageUpload(
        image_id=image_id,
        upload=PresignedPost(url=post.url, fields=post.fields),
        max_bytes=settings.max_upload_bytes,
        expires_in=settings.upload_url_expires_seconds,
    )


def get_image(image_id: str, stores: Stores, settings: Settings) -> ImagePublic:
    """What is stored under ``image_id``; NotFound if nothing (yet)."""
    key = image_key(image_id)
    stored = stores.images.head(key)
    if stored is None:
        raise NotFound(f"no image {image_id}")
    return ImagePublic(
        image_id=image_id,
        content_type=stored.content_type,
        size=stored.size,
        created_at=stored.last_modified,
        url=stores.images.presign_download(key, settings.download_url_expires_seconds),
        expires_in=settings.download_url_expires_seconds,
    )
