"""IngestFunction: S3 ObjectCreated notifications for uploads/ and incoming/ → one task per uploaded file."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from pixelmill.dal import get_stores
from pixelmill.logic.ingest import ingest_upload
from pixelmill.models.ingest import UploadedObject
from pixelmill.observability import logger, metrics, publish_metrics, tracer, unbind_task
from pixelmill.settings import get_settings

# What S3 sends once when a notification is configured (to SQS and SNS; the local stack passes it on).
TEST_EVENT = "s3:TestEvent"


def uploads_of(event: dict[str, Any]) -> tuple[list[UploadedObject], int]:
    """The ObjectCreated records of an S3 notification, keys decoded; and how many other records it had."""
    uploads: list[UploadedObject] = []
    others = 0
    for record in S3Event(event).records:
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            others += 1
            continue
        s3_object = record.s3.get_object
        uploads.append(
            UploadedObject(
                bucket=record.s3.bucket.name,
                # Keys arrive URL-encoded, a space as "+" (and "/" as %2F from some emitters).
                key=unquote_plus(s3_object.key),
                version_id=s3_object.version_id,
                event_name=record.event_name,
                principal_id=(record.get("userIdentity") or {}).get("principalId"),
            )
        )
    return uploads, others


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@publish_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    unbind_task()
    if "Records" not in event:
        if event.get("Event") == TEST_EVENT:
            logger.info("S3 test event ignored", extra={"bucket": event.get("Bucket")})
        else:
            logger.warning("not an S3 notification: ignored", extra={"event_keys": sorted(event)})
        return {"ignored": 1}
    uploads, others = uploads_of(event)
    outcomes: Counter[str] = Counter({"ignored": others} if others else {})
    errors: list[Exception] = []
    for upload in uploads:
        unbind_task()
        try:
            outcomes[ingest_upload(upload, get_stores(), get_settings()).outcome] += 1
        except Exception as error:  # try the other records; the whole event is retried below
            logger.exception("upload not ingested", extra={"bucket": upload.bucket, "key": upload.key})
            errors.append(error)
    for outcome, count in outcomes.items():
        metrics.add_metric(name=f"Upload{outcome.capitalize()}", unit="Count", value=count)
    if errors:
        # Lambda delivers the event again (then to the dead-letter queue): the records that
        # succeeded are found to have their tasks, the others are tried again.
        raise RuntimeError(f"{len(errors)} of {len(uploads)} uploads not ingested") from errors[0]
    return dict(outcomes)
