"""The dal turns every AWS SDK error into the domain's StoreUnavailable (botocore's own
client, answered by its Stubber: no network), and keeps the answers logic relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from pixelmill.dal import DynamoTaskStore, S3ImageStore, SqsDeadLetterQueue, SqsTaskQueue
from pixelmill.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def s3() -> Iterator[tuple[S3Client, Stubber]]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber


def test_a_missing_object_is_none_and_a_throttled_call_is_store_unavailable(s3: tuple[S3Client, Stubber]) -> None:
    client, stubber = s3
    store = S3ImageStore(client, "bucket")
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    assert store.head("k") is None
    stubber.add_client_error("head_object", service_error_code="SlowDown", http_status_code=503)
    with pytest.raises(StoreUnavailable, match="SlowDown"):
        store.head("k")


def test_queue_table_and_dead_letters_raise_store_unavailable() -> None:
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sqs) as queue, Stubber(dynamodb) as table:
        queue.add_client_error("send_message", service_error_code="ServiceUnavailable", http_status_code=503)
        with pytest.raises(StoreUnavailable):
            SqsTaskQueue(sqs, "https://sqs.us-east-1.amazonaws.com/1/q").send("01KAB0000000000000000000AA")
        queue.add_client_error("receive_message", service_error_code="ServiceUnavailable", http_status_code=503)
        with pytest.raises(StoreUnavailable):
            list(SqsDeadLetterQueue(sqs, "https://sqs.us-east-1.amazonaws.com/1/dlq").browse())
        table.add_client_error("get_item", service_error_code="ProvisionedThroughputExceededException")
        with pytest.raises(StoreUnavailable):
            DynamoTaskStore(dynamodb, "tasks").get("01KAB0000000000000000000AA")
