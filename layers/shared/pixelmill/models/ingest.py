"""Upload triggers: what to do with a file dropped into ``incoming/``.

An upload says what it wants in its S3 metadata (``function-type`` and
``function-args``); otherwise the first matching rule of the configured rule
set (the longest prefix) decides; otherwise nothing is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, Json, field_validator

from pixelmill.models.ids import INCOMING_PREFIX
from pixelmill.models.tenant import Tenant

# The S3 user metadata an upload carries (x-amz-meta-function-type / x-amz-meta-function-args).
FUNCTION_TYPE_METADATA = "function-type"
FUNCTION_ARGS_METADATA = "function-args"


class IngestRule(BaseModel):
    """Files whose key starts with ``prefix`` get a task of ``function_type`` with ``function_args``.

    The function is not looked up here: a rule naming a function this
    deployment does not have gives ``failed`` tasks that say so, not a
    function that cannot start.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str = Field(min_length=len(INCOMING_PREFIX), max_length=1024, examples=["incoming/thumbnails/"])
    function_type: str = Field(min_length=1, max_length=64, examples=["thumbnail"])
    function_args: dict[str, Any] = Field(default_factory=dict, examples=[{"size": 256}])
    owner: Tenant | None = Field(
        default=None,
        description=(
            "Who owns the files under this prefix and their tasks (an IAM user's or role's unique id, "
            "e.g. AROA…), for uploads by other services; by default the principal that uploaded each file."
        ),
    )

    @field_validator("prefix")
    @classmethod
    def _under_incoming(cls, value: str) -> str:
        if not value.startswith(INCOMING_PREFIX):
            raise ValueError(f"a rule's prefix starts with {INCOMING_PREFIX} (only uploads there trigger tasks)")
        return value


class UploadMetadata(BaseModel):
    """What an upload asks for in its S3 metadata (``x-amz-meta-function-type``,
    ``x-amz-meta-function-args``; S3 gives the names in lower case)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    function_type: str = Field(alias=FUNCTION_TYPE_METADATA, min_length=1, max_length=64)
    function_args: Json[dict[str, Any]] = Field(alias=FUNCTION_ARGS_METADATA, default_factory=dict)


DEFAULT_INGEST_RULES: tuple[IngestRule, ...] = (
    IngestRule(prefix="incoming/thumbnails/", function_type="thumbnail", function_args={"size": 256}),
    IngestRule(
        prefix="incoming/web-mercator/", function_type="change_projection", function_args={"target_srs": "EPSG:3857"}
    ),
)


def matching_rule(key: str, rules: tuple[IngestRule, ...]) -> IngestRule | None:
    """The rule for ``key``: the one with the longest prefix it starts with, or None."""
    matches = [rule for rule in rules if key.startswith(rule.prefix)]
    return max(matches, key=lambda rule: len(rule.prefix)) if matches else None


@dataclass(frozen=True)
class UploadedObject:
    """One ``ObjectCreated`` notification, free of the event's shape: which object (and version)."""

    bucket: str
    key: str
    version_id: str | None = None
    event_name: str = "ObjectCreated:Put"
    principal_id: str | None = None
    """Who wrote it: the notification's ``userIdentity.principalId`` (``AWS:<unique id>[:<session>]``)."""
