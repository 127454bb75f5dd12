"""The secret that signs image URLs (Secrets Manager)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pixelmill.dal.errors import domain_errors

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Rotation puts a new value in place as AWSCURRENT; the old one stays readable as AWSPREVIOUS,
# so URLs signed before a rotation keep working until the next one.
_STAGES = ("AWSCURRENT", "AWSPREVIOUS")
_CACHE_SECONDS = 300.0


@domain_errors
class SigningKeys:
    """The keys of the URL-signing secret: the current one first, then the previous one (if any).

    Read at most every five minutes per process: a rotation reaches every function within that.
    """

    def __init__(self, client: SecretsManagerClient, secret_id: str) -> None:
        self._client = client
        self._secret_id = secret_id
        self._lock = threading.Lock()
        self._keys: tuple[bytes, ...] = ()
        self._read_at = float("-inf")

    def keys(self) -> tuple[bytes, ...]:
        """Every key a signature may be made with; the first is the one to sign with."""
        with self._lock:
            if time.monotonic() - self._read_at > _CACHE_SECONDS or not self._keys:
                self._keys = tuple(key for key in (self._read(stage) for stage in _STAGES) if key)
                self._read_at = time.monotonic()
            return self._keys

    def _read(self, stage: str) -> bytes | None:
        if not self._secret_id:
            raise RuntimeError("PIXELMILL_SIGNING_SECRET_ID is not set")
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id, VersionStage=stage)
        except ClientError as error:
            if stage != "AWSCURRENT" and error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None  # never rotated: there is no previous version
            raise
        return response["SecretString"].encode()
