"""The S3 bucket of uploads and results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pixelmill.dal.errors import domain_errors
from pixelmill.errors import ImageTooLarge, NotFound, StoreUnavailable
from pixelmill.models.ids import OWNER_TAG
from pixelmill.stores import FetchedImage, PresignedUpload, StoredImage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

_MISSING = {"404", "NoSuchKey", "NotFound"}
# S3 answers a read of a missing key with 403 (AccessDenied) unless the caller may list the
# bucket. The functions may list only their own prefixes (an s3:prefix condition), which a read
# of one key names none of, and may read every key they HEAD or ask the tags of: so a 403 there
# is a key that is not there.
_READ_MISSING = {*_MISSING, "403", "AccessDenied"}


@domain_errors
class S3ImageStore:
    """Reads, writes and presigns image objects in one S3 bucket (an ImageStore)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def presign_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: int, metadata: dict[str, str] | None = None
    ) -> PresignedUpload:
        """A POST policy for ``key`` that S3 enforces: this content type, 1..max_bytes bytes,
        and exactly this user ``metadata`` (sent as ``x-amz-meta-<name>`` fields)."""
        fields: dict[str, Any] = {"Content-Type": content_type}
        fields.update({f"x-amz-meta-{name}": value for name, value in (metadata or {}).items()})
        post = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields=fields,
            Conditions=[*({name: value} for name, value in fields.items()), ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return PresignedUpload(url=post["url"], fields=post["fields"])

    def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> str:
        """A GET URL for ``key``; ``filename`` becomes the download's file name."""
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def head(self, key: str, version_id: str | None = None) -> StoredImage | None:
        """The object's size, type and metadata (of one version, if given), or None if there is no such object."""
        try:
            if version_id:
                response = self._client.head_object(Bucket=self._bucket, Key=key, VersionId=version_id)
            else:
                response = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _READ_MISSING:
                return None
            raise
        return StoredImage(
            key=key,
            size=response["ContentLength"],
            content_type=response.get("ContentType", "application/octet-stream"),
            last_modified=response["LastModified"],
            metadata=response.get("Metadata", {}),
            etag=response.get("ETag", "").strip('"'),
            version_id=response.get("VersionId"),
        )

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFound if it is gone."""
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFound(f"no object {key}") from None
            raise
        return response["Body"].read()

    def fetch(self, key: str, max_bytes: int | None = None) -> FetchedImage | None:
        """The object's bytes, type and ETag in one GET, or None if there is no such object.

        ImageTooLarge, before its body is read, when it has more than ``max_bytes``.
        """
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        size = response["ContentLength"]
        if max_bytes is not None and size > max_bytes:
            response["Body"].close()
            raise ImageTooLarge(f"the image has {size} bytes, over the limit of {max_bytes}")
        return FetchedImage(
            data=response["Body"].read(),
            content_type=response.get("ContentType", "application/octet-stream"),
            etag=response.get("ETag", "").strip('"'),
            last_modified=response["LastModified"],
            metadata=response.get("Metadata", {}),
        )

    def download(self, key: str, path: Path) -> None:
        """Write the object to ``path``, streamed (it never sits whole in memory); NotFound if it is gone."""
        try:
            self._client.download_file(self._bucket, key, str(path))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFound(f"no object {key}") from None
            raise

    def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str] | None = None) -> None:
        """Upload the file at ``path`` to ``key`` (multipart when large; overwriting, as ``put``)."""
        self._client.upload_file(
            str(path), self._bucket, key, ExtraArgs={"ContentType": content_type, "Metadata": metadata or {}}
        )

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        """Write ``data`` at ``key`` (overwriting: a retried task replaces its own result)."""
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata or {}
        )

    def owner_tag(self, key: str) -> str | None:
        """The owner an object is tagged with (files under incoming/), or None: untagged or no such object."""
        try:
            response = self._client.get_object_tagging(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _READ_MISSING:
                return None
            raise
        return next((tag["Value"] for tag in response.get("TagSet", []) if tag["Key"] == OWNER_TAG), None)

    def tag_owner(self, key: str, owner: str) -> None:
        """Tag the object with its owner (a tag, unlike metadata, is set without writing the object again)."""
        self._client.put_object_tagging(
            Bucket=self._bucket, Key=key, Tagging={"TagSet": [{"Key": OWNER_TAG, "Value": owner}]}
        )

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is not there."""
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``, a listed page (up to 1,000 keys) per request;
        how many there were. StoreUnavailable if S3 could not delete one of them."""
        deleted = 0
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            keys: list[ObjectIdentifierTypeDef] = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not keys:
                continue
            response = self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True})
            if response.get("Errors"):
                error = response["Errors"][0]
                raise StoreUnavailable(
                    f"{len(response['Errors'])} objects under {prefix} were not deleted, the first "
                    f"{error.get('Key')}: {error.get('Code')} {error.get('Message')}"
                )
            deleted += len(keys)
        return deleted
