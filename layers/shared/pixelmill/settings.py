"""The one settings model: every environment variable the functions read."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pixelmill.models.ingest import DEFAULT_INGEST_RULES, IngestRule

MIB = 1024 * 1024


class Settings(BaseSettings):
    """pixelmill's configuration, read from ``PIXELMILL_*`` environment variables.

    The names match the ``Environment`` of the functions in ``template.yaml``
    (an infrastructure test keeps the two in step).
    """

    model_config = SettingsConfigDict(env_prefix="PIXELMILL_", frozen=True, extra="ignore")

    images_bucket: str = Field(default="pixelmill-images", description="S3 bucket of uploads and results.")
    tasks_table: str = Field(default="pixelmill-tasks", description="DynamoDB table of tasks.")
    task_queue_url: str = Field(default="", description="URL of the SQS queue of task ids.")
    dead_letter_queue_url: str = Field(default="", description="URL of the task queue's dead-letter queue.")

    max_upload_bytes: int = Field(default=50 * MIB, gt=0, description="Largest accepted upload.")
    max_source_pixels: int = Field(
        default=100_000_000, gt=0, description="Largest source image (width × height), checked before decoding."
    )
    max_output_pixels: int = Field(default=50_000_000, gt=0, description="Largest result image (width × height).")
    max_task_work_pixels: int = Field(
        default=500_000_000,
        gt=0,
        description=(
            "Most pixels a photo task may make: the decoded source plus every image its steps make "
            "(a pipeline's steps are summed), times the animation's frames."
        ),
    )
    task_memory_mib: int = Field(
        default=1536,
        ge=64,
        description=(
            "Memory (MiB) a task's transform may use: a photo task's decoded bytes are estimated before "
            "decoding (float32 and 16-bit samples count 4 and 2 bytes), and the transform's process is killed above it."
        ),
    )
    max_raster_growth: int = Field(
        default=16,
        ge=1,
        description="How many times the source's pixels (width × height) a raster result may have.",
    )
    max_animation_frames: int = Field(default=300, gt=0, description="Most frames of an animated source.")
    allowed_input_formats: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "AVIF", "HEIF", "JPEG2000"}),
        description="Pillow format names a source may have (comma-separated in the environment).",
    )
    max_raster_pixels: int = Field(
        default=1_000_000_000,
        gt=0,
        description="Largest raster, source or result, as width × height × bands (rasters are processed in windows).",
    )
    raster_memory_mib: int = Field(
        default=512,
        ge=16,
        description=(
            "Working memory (MiB) of a raster function's pixels: rasters are read, warped and written window by "
            "window within it, whatever their size. GDAL's block cache (GDAL_CACHEMAX) comes on top."
        ),
    )

    task_timeout_seconds: float = Field(
        default=50.0, gt=0, description="Processing time allowed to one task; below the Lambda timeout."
    )
    task_visibility_seconds: int = Field(
        default=60,
        ge=5,
        le=43200,
        description=(
            "How long a received task message stays hidden without a heartbeat: the live worker extends it "
            "every third of this, so a worker that dies costs its tasks about this long."
        ),
    )
    max_receive_count: int = Field(
        default=3, ge=1, description="SQS receives before a message goes to the DLQ (the redrive policy's count)."
    )
    upload_url_expires_seconds: int = Field(default=900, gt=0, le=604800)
    download_url_expires_seconds: int = Field(default=3600, gt=0, le=604800)
    task_ttl_days: int = Field(default=30, gt=0, description="Days a task record is kept (DynamoDB TTL).")
    result_retention_days: int = Field(
        default=7, gt=0, description="Days S3 keeps a result; a done task's record goes with it."
    )
    upload_retention_days: int = Field(
        default=30,
        ge=6,
        description=(
            "Days S3 keeps an upload (uploads/, incoming/); no task is created on one within 5 days of its expiry."
        ),
    )
    max_unfinished_tasks: int = Field(
        default=100,
        gt=0,
        description="Most unfinished (new, queued, processing) tasks one caller may have; over it, POST answers 429.",
    )
    signing_secret_id: str = Field(
        default="", description="Secrets Manager secret (ARN or name) whose value signs image URLs."
    )
    image_url_base: str = Field(
        default="",
        description="Base of signed image URLs (the CloudFront distribution); empty: the API's own host.",
    )
    image_cache_max_age_seconds: int = Field(
        default=31_536_000,
        ge=0,
        description="Cache-Control max-age of rendered images, at most: never past their source's expiry.",
    )
    render_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Time one image URL may take to render; below the function's timeout."
    )
    allowed_origin: str = Field(default="*", description="Origin browsers may call the API from (CORS).")
    public_api_url: str = Field(
        default="",
        pattern=r"^(https?://[^/?#]+(/[^?#]*)?)?$",
        description=(
            "The URL clients call the API under, without /api (e.g. https://images.example.com): the base of the "
            "links the API hands out. Empty: the domain and stage API Gateway reports for the request."
        ),
    )
    ingest_rules: Annotated[tuple[IngestRule, ...], NoDecode] = Field(
        default=DEFAULT_INGEST_RULES,
        description=(
            "What to do with a file dropped into incoming/ that has no function-type metadata: "
            'a JSON array of {"prefix", "function_type", "function_args"}; the longest matching prefix wins.'
        ),
    )

    @field_validator("allowed_input_formats", mode="before")
    @classmethod
    def _split_formats(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip().upper() for part in value.split(",") if part.strip())
        return value

    @field_validator("ingest_rules", mode="before")
    @classmethod
    def _parse_rules(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else ()
        return value

    @field_validator("ingest_rules")
    @classmethod
    def _one_rule_per_prefix(cls, rules: tuple[IngestRule, ...]) -> tuple[IngestRule, ...]:
        prefixes = [rule.prefix for rule in rules]
        repeated = sorted({prefix for prefix in prefixes if prefixes.count(prefix) > 1})
        if repeated:
            raise ValueError(f"more than one rule for the prefix {', '.join(repeated)}")
        return rules


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
