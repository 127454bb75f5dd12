"""A small client of the pixelmill API: requests, signed with AWS SigV4 by botocore's credential chain."""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import Session

DEFAULT_API = "http://127.0.0.1:3000/api"
TIMEOUT_SECONDS = 60


class ApiError(Exception):
    """The API answered with an error: its problem detail (RFC 9457) is kept."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(self.describe())

    def describe(self) -> str:
        """The problem as lines a person reads: title, detail, one line per bad field."""
        title = self.problem.get("title") or f"HTTP {self.status}"
        lines = [f"{title} ({self.status})"]
        detail = self.problem.get("detail")
        if detail and detail != title and not self.problem.get("errors"):
            lines[0] += f": {detail}"
        for error in self.problem.get("errors") or []:
            lines.append(f"  - {error.get('field', '?')}: {error.get('message', '')}")
        return "\n".join(lines)


class Unreachable(Exception):
    """The API could not be reached at all."""


class NoCredentials(Exception):
    """No AWS credentials were found to sign with."""


class SigV4(requests.auth.AuthBase):
    """Signs each API request with AWS SigV4 for ``execute-api``, as API Gateway's IAM authorization wants.

    The credentials come from botocore's chain (environment, shared config and
    credentials files with ``profile``, SSO, container and instance roles) and are
    refreshed when they are temporary. Only the host, the date, the content type
    and the body are signed: what a proxy on the way may not change.
    """

    def __init__(self, credentials: Credentials, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        headers = {name: value for name, value in request.headers.items() if name.lower() == "content-type"}
        signed = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
        SigV4Auth(self.credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        return request


def signer(api_url: str, *, profile: str | None = None, region: str | None = None) -> SigV4:
    """A SigV4 signer from the standard AWS credential chain; the region is ``region``, else the
    configured one, else the one in an ``execute-api`` URL, else us-east-1 (the local stack's)."""
    session = Session(profile=profile)
    credentials = session.get_credentials()
    if credentials is None:
        raise NoCredentials(
            "no AWS credentials to sign with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(`make dev` prints the local user's), or AWS_PROFILE / --profile"
        )
    in_url = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", api_url)
    chosen = region or os.environ.get("AWS_REGION") or session.get_config_variable("region")
    return SigV4(credentials, chosen or (in_url.group(1) if in_url else "us-east-1"))


class Client:
    """The API at ``base_url`` (e.g. ``http://127.0.0.1:3000/api`` or a deployed stack's ApiUrl)."""

    def __init__(
        self,
        base_url: str = DEFAULT_API,
        auth: requests.auth.AuthBase | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.session = session or requests.Session()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An API call, signed (presigned storage URLs carry their own signature and are not)."""
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT_SECONDS, auth=self.auth, **kwargs)
        except requests.ConnectionError as error:
            raise Unreachable(f"cannot reach the API at {self.base_url} ({error.__class__.__name__})") from error
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason, "detail": response.text[:500]}
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
        return response

    def upload(self, path: Path, content_type: str | None = None) -> str:
        """Upload the file at ``path`` (start an upload, then the presigned POST); returns its image id."""
        content_type = content_type or guess_content_type(path)
        upload = self._request("POST", "images/", json={"content_type": content_type}).json()
        with path.open("rb") as stream:
            try:
                posted = self.session.post(
                    upload["upload"]["url"],
                    data=upload["upload"]["fields"],
                    files={"file": (path.name, stream, content_type)},
                    timeout=TIMEOUT_SECONDS * 10,
                )
            except requests.ConnectionError as error:
                raise Unreachable(f"cannot reach the upload URL {upload['upload']['url']}") from error
        if posted.status_code >= 300:
            raise ApiError(posted.status_code, {"title": "Upload refused by storage", "detail": posted.text[:500]})
        image_id: str = upload["image_id"]
        return image_id

    def create_task(self, image_id: str, function_type: str, function_args: dict[str, Any]) -> dict[str, Any]:
        """POST /api/tasks/."""
        body = {"image_id": image_id, "function_type": function_type, "function_args": function_args}
        task: dict[str, Any] = self._request("POST", "tasks/", json=body).json()
        return task

    def sign_url(self, image_id: str, steps: list[dict[str, Any]], expires_in: int | None = None) -> dict[str, Any]:
        """POST /api/urls/: a signed image URL for ``image_id`` through ``steps``."""
        body: dict[str, Any] = {"image_id": image_id, "steps": steps}
        if expires_in is not None:
            body["expires_in"] = expires_in
        signed: dict[str, Any] = self._request("POST", "urls/", json=body).json()
        return signed

    def task(self, task_id: str) -> dict[str, Any]:
        """GET /api/tasks/{task_id}/."""
        task: dict[str, Any] = self._request("GET", f"tasks/{task_id}/").json()
        return task

    def tasks(
        self, *, status: str | None = None, image_id: str | None = None, limit: int = 50
    ) -> Iterator[dict[str, Any]]:
        """Every task, newest first, following the ``Link: rel="next"`` pages."""
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if image_id:
            params["image_id"] = image_id
        response = self._request("GET", "tasks/", params=params)
        while True:
            yield from response.json()
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            response = self._request("GET", following)

    def image(self, image_id: str) -> dict[str, Any]:
        """GET /api/images/{image_id}/: metadata and a download URL."""
        image: dict[str, Any] = self._request("GET", f"images/{image_id}/").json()
        return image

    def cancel(self, task_id: str) -> None:
        """DELETE /api/tasks/{task_id}/: cancel if unfinished, then delete with its result."""
        self._request("DELETE", f"tasks/{task_id}/")

    def functions(self) -> list[dict[str, Any]]:
        """GET /api/functions/: the catalog."""
        catalog: list[dict[str, Any]] = self._request("GET", "functions/").json()
        return catalog

    def download(self, url: str, path: Path) -> int:
        """Save the result at the presigned ``url`` to ``path``; returns the byte count."""
        try:
            response = self.session.get(url, timeout=TIMEOUT_SECONDS * 10, stream=True)
        except requests.ConnectionError as error:
            raise Unreachable(f"cannot reach the download URL {url}") from error
        if response.status_code >= 300:
            raise ApiError(
                response.status_code, {"title": "Download refused by storage", "detail": response.text[:500]}
            )
        size = 0
        with path.open("wb") as stream:
            for chunk in response.iter_content(1 << 16):
                stream.write(chunk)
                size += len(chunk)
        return size


# Image types the system's MIME table may not know (it varies by OS and Python version).
_EXTRA_TYPES = {
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".jp2": "image/jp2",
    ".j2k": "image/jp2",
}


def guess_content_type(path: Path) -> str:
    """The upload's Content-Type from the file name (``.tif`` → ``image/tiff``)."""
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None:
        guessed = _EXTRA_TYPES.get(path.suffix.lower())
    if guessed is None or not guessed.startswith("image/"):
        raise ValueError(f"cannot tell the image type of {path.name}; pass --content-type")
    return guessed
