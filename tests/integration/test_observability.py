"""What an operator sees of a task: its log lines and metrics, from real handler runs on moto.

Every line written while a task is handled (API, processor, ingest, sweeper) carries the
task's keys; each outcome is one line; the batch summary counts tasks by outcome; the task
metrics carry a function_type dimension.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError

from pixelmill.dal.errors import translate_sdk_errors
from pixelmill.dal.images import S3ImageStore as ImageStore
from pixelmill.observability import bind_task, logger, unbind_task
from tests.imagegen import jpeg_bytes
from tests.integration.conftest import Stack
from tests.integration.test_ingest import Notifications
from tests.integration.test_lifecycle import _create

KEYS = ("task_id", "function_type", "image_id")


class Lines:
    """The JSON lines the functions log (the handler's stream), read since the last call."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def take(self) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]
        self.stream.seek(0)
        self.stream.truncate()
        return lines


@pytest.fixture
def lines(stack: Stack) -> Iterator[Lines]:
    # The handler Lambda writes to stdout; rasterio's and Python's warnings loggers share it.
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    captured = Lines()
    previous = handler.setStream(captured.stream)
    yield captured
    handler.setStream(previous)


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """EMF documents printed to stdout (metrics are on for these tests)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    def documents() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        found = []
        for line in out.splitlines():
            if line.startswith("{") and '"_aws"' in line:
                found.append(json.loads(line))
        return found

    return documents


def _messages(lines: list[dict[str, Any]]) -> list[str]:
    return [line["message"] for line in lines]


def _assert_all_carry(lines: list[dict[str, Any]], task: dict[str, Any], owner: str | None = None) -> None:
    """Every line names the task and its owner (``owner`` if given, else any)."""
    assert lines
    for line in lines:
        for key in KEYS:
            assert line.get(key) == task[key], (key, line)
        assert line.get("owner"), line
        if owner is not None:
            assert line["owner"] == owner, line


def _summary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [summary] = [line for line in lines if line["message"] == "batch processed"]
    return summary


def test_every_line_of_a_done_task_carries_its_keys_and_each_outcome_is_one_line(stack: Stack, lines: Lines) -> None:
    # Given an uploaded photo
    image_id = stack.upload(jpeg_bytes(320, 240))
    lines.take()

    # When a task is created, processed, read and deleted
    task = _create(stack, image_id, width=80)
    created = lines.take()
    stack.process_batch()
    processed = lines.take()
    assert stack.api.get(f"/api/tasks/{task['task_id']}/").status == 200
    assert stack.api.delete(f"/api/tasks/{task['task_id']}/").status == 204
    read_and_deleted = lines.take()

    # Then every line of its handling carries its task_id, function_type, image_id and owner
    owner = stack.api.tenant
    _assert_all_carry(created, task, owner)
    _assert_all_carry([line for line in processed if line["message"] != "batch processed"], task, owner)
    _assert_all_carry(read_and_deleted, task, owner)

    # And each outcome is exactly one line, with what an operator needs
    assert _messages(created).count("task created") == 1
    started = [line for line in processed if line["message"] == "task started"]
    done = [line for line in processed if line["message"] == "task done"]
    assert len(started) == 1
    assert len(done) == 1
    assert started[0]["queue_wait_seconds"] >= 0
    assert started[0]["attempt"] == 1
    assert done[0]["duration_seconds"] >= 0
    assert done[0]["bytes_in"] > 0
    assert done[0]["bytes_out"] > 0
    assert "task failed" not in _messages(processed)

    # And the batch summary counts the task as done, with no other outcome
    summary = _summary(processed)
    assert summary["records"] == 1
    assert summary["done"] == 1
    assert not {"failed", "retried", "skipped"} & set(summary)
    assert "task_id" not in summary


def test_a_failed_task_logs_one_failed_line_and_the_summary_counts_it_failed(stack: Stack, lines: Lines) -> None:
    # Given an upload that is not an image
    task = _create(stack, stack.upload(b"not an image at all", "image/png"), width=10)
    lines.take()

    # When it is processed
    stack.process_batch()
    processed = lines.take()

    # Then one "task failed" line says why and that it will not be retried
    failed = [line for line in processed if line["message"] == "task failed"]
    assert len(failed) == 1
    assert failed[0]["code"] == "unsupported_image"
    assert failed[0]["will_retry"] is False
    assert failed[0]["level"] == "WARNING"
    _assert_all_carry([line for line in processed if line["message"] != "batch processed"], task)

    # And the summary counts one failed task and no success
    summary = _summary(processed)
    assert summary["failed"] == 1
    assert "done" not in summary


def test_a_transient_fault_logs_a_failed_line_that_will_be_retried(
    stack: Stack, lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = _create(stack, stack.upload(jpeg_bytes(64, 64)), width=10)

    def broken_download(self: ImageStore, key: str, path: Path) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "throttled"}}, "GetObject")

    monkeypatch.setattr(ImageStore, "download", translate_sdk_errors(broken_download))
    lines.take()

    stack.process_batch()
    processed = lines.take()

    [failed] = [line for line in processed if line["message"] == "task failed"]
    assert failed["code"] == "transient_error"
    assert failed["will_retry"] is True
    assert "SlowDown" in failed["reason"]
    _assert_all_carry([line for line in processed if line["message"] != "batch processed"], task)
    assert _summary(processed)["retried"] == 1


def test_ingest_lines_carry_the_task_of_the_upload(stack: Stack, lines: Lines) -> None:
    # Given a file dropped into incoming/thumbnails/ (the default rule: a thumbnail)
    notifications = Notifications(stack)
    notifications.received()
    boto3.client("s3").put_object(Bucket=stack.bucket, Key="incoming/thumbnails/a.jpg", Body=jpeg_bytes(64, 64))
    lines.take()

    # When IngestFunction gets the notification
    notifications.deliver()
    ingested = lines.take()

    # Then the lines about the upload's task carry its keys, and it was created once
    [task] = stack.api.get("/api/tasks/").json()
    _assert_all_carry(ingested, task)
    assert _messages(ingested).count("task created") == 1


def test_sweeper_lines_carry_the_task_it_fails(stack: Stack, lines: Lines, emf: Any) -> None:
    # Given a task whose message is in the dead-letter queue (its worker was killed every time)
    task = _create(stack, stack.upload(jpeg_bytes(64, 64)), width=10)
    sqs = boto3.client("sqs")
    [message] = sqs.receive_message(QueueUrl=stack.queue_url)["Messages"]
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody=message["Body"])
    sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    lines.take()
    emf()

    # When the sweeper runs
    stack.sweep()
    swept = lines.take()

    # Then its "task failed" line carries the task and says the sweeper recovered it
    [failed] = [line for line in swept if line["message"] == "task failed"]
    _assert_all_carry([failed], task)
    assert failed["recovered_by"] == "sweeper"
    assert failed["will_retry"] is False
    # And a recovery is counted for the task's function
    [recovered] = [doc for doc in emf() if "SweeperRecovered" in doc]
    assert recovered["function_type"] == "resize"
    assert recovered["TaskFailed"] == [1.0]


def test_gdal_messages_go_through_the_logger_with_the_task_and_their_level(stack: Stack, lines: Lines) -> None:
    import rasterio
    from rasterio.transform import from_origin

    # Given a task being handled
    bind_task(task_id="01KAB3Q0XS1W6E2M9V7ZK4H8TN", function_type="to_cog", image_id="img")
    try:
        # When GDAL warns (an option its driver does not know)
        with (
            rasterio.MemoryFile() as memory,
            memory.open(
                driver="GTiff",
                width=2,
                height=2,
                count=1,
                dtype="uint8",
                crs="EPSG:4326",
                transform=from_origin(0, 2, 1, 1),
                not_an_option="yes",
            ) as dataset,
        ):
            dataset.write(np.zeros((1, 2, 2), dtype="uint8"))
    finally:
        unbind_task()

    # Then the warning is one of our JSON lines, at WARNING, with the task's keys
    [warning] = [line for line in lines.take() if "NOT_AN_OPTION" in line["message"]]
    assert warning["level"] == "WARNING"
    assert warning["name"].startswith("rasterio")
    assert warning["task_id"] == "01KAB3Q0XS1W6E2M9V7ZK4H8TN"
    assert warning["function_type"] == "to_cog"


def test_task_metrics_have_a_function_type_dimension_and_a_service_total(stack: Stack, emf: Any) -> None:
    # Given a thumbnail task and a grayscale task in one batch
    thumbnail = _create(stack, stack.upload(jpeg_bytes(200, 100)), "thumbnail", size=32)
    _create(stack, stack.upload(jpeg_bytes(200, 100)), "grayscale")
    created = [doc for doc in emf() if "TaskCreated" in doc]

    # When the batch is processed
    stack.process_batch()
    documents = emf()

    # Then each creation is counted with its function_type
    assert sorted(doc["function_type"] for doc in created) == ["grayscale", "thumbnail"]
    for doc in created:
        [definition] = doc["_aws"]["CloudWatchMetrics"]
        assert definition["Namespace"] == "pixelmill"
        assert definition["Dimensions"] == [["function_type", "service"], ["service"]]
        assert doc["service"] == "pixelmill"

    # And each finished task is one document: done, duration, queue wait and bytes, by function
    done = {doc["function_type"]: doc for doc in documents if "TaskDone" in doc}
    assert set(done) == {"thumbnail", "grayscale"}
    for doc in done.values():
        [definition] = doc["_aws"]["CloudWatchMetrics"]
        units = {metric["Name"]: metric["Unit"] for metric in definition["Metrics"]}
        assert units == {
            "TaskDone": "Count",
            "ProcessingDuration": "Seconds",
            "QueueWait": "Seconds",
            "BytesIn": "Bytes",
            "BytesOut": "Bytes",
        }
        assert definition["Dimensions"] == [["function_type", "service"], ["service"]]
        assert doc["BytesIn"][0] > doc["BytesOut"][0] > 0

    # And a cancelled task is counted as cancelled, for its function
    other = _create(stack, stack.upload(jpeg_bytes(20, 20)), "thumbnail", size=8)
    emf()
    stack.api.delete(f"/api/tasks/{other['task_id']}/")
    [cancelled] = [doc for doc in emf() if "TaskCancelled" in doc]
    assert cancelled["function_type"] == thumbnail["function_type"]


def test_retries_are_counted(stack: Stack, emf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _create(stack, stack.upload(jpeg_bytes(64, 64)), "grayscale")

    def broken_download(self: ImageStore, key: str, path: Path) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "throttled"}}, "GetObject")

    monkeypatch.setattr(ImageStore, "download", translate_sdk_errors(broken_download))
    emf()

    stack.process_batch()

    [retried] = [doc for doc in emf() if "TaskRetried" in doc]
    assert retried["function_type"] == "grayscale"
    assert retried["TaskRetried"] == [1.0]


class _Traces:
    """An X-Ray emitter that keeps what it would send to the daemon."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity)

    def set_daemon_address(self, address: str) -> None:
        pass


def _subsegments(entity: Any) -> Iterator[Any]:
    for subsegment in entity.subsegments:
        yield subsegment
        yield from _subsegments(subsegment)


def test_a_tasks_trace_has_annotated_subsegments_for_each_stage(stack: Stack) -> None:
    import aws_xray_sdk
    from aws_xray_sdk.core import xray_recorder

    # Given a queued task, and X-Ray recording (as on Lambda with Tracing: Active)
    task = _create(stack, stack.upload(jpeg_bytes(64, 48)), width=32)
    aws_xray_sdk.global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(emitter=_Traces(), sampling=False, context_missing="LOG_ERROR")
    segment = xray_recorder.begin_segment("ProcessorFunction")
    try:
        # When the processor handles it
        stack.process_batch()
    finally:
        xray_recorder.end_segment()
        aws_xray_sdk.global_sdk_config.set_sdk_enabled(False)

    # Then download, transform, upload and the task's DynamoDB writes are subsegments,
    # each annotated with the task (searchable: annotation.task_id = "…")
    annotated = {sub.name: sub.annotations for sub in _subsegments(segment) if sub.name.startswith("## ")}
    for name in (
        "## download",
        "## transform",
        "## upload",
        "## dynamodb update task processing",
        "## dynamodb update task done",
    ):
        assert annotated[name] == {"task_id": task["task_id"], "function_type": "resize"}, name


def test_requests_that_count_nothing_warn_of_nothing(stack: Stack) -> None:
    # Powertools warns "No application metrics to publish" when a handler published none.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert stack.api.get("/api/functions/").status == 200
        stack.process_batch()  # an empty queue: nothing is delivered
        stack.sweep()
    assert not [warning for warning in caught if "metrics" in str(warning.message)]


def test_proj_errors_go_through_the_logger_not_bare_to_stderr(
    stack: Stack, lines: Lines, capfd: pytest.CaptureFixture[str]
) -> None:
    # When a task asks for a projection PROJ does not know (the API checks a CRS's form only)
    image_id = stack.upload(jpeg_bytes(16, 16))
    lines.take()
    capfd.readouterr()
    response = stack.api.post(
        "/api/tasks/",
        json_body={
            "image_id": image_id,
            "function_type": "change_projection",
            "function_args": {"target_srs": "+proj=nope"},
        },
    )
    assert response.status == 200, response.body
    stack.process_batch()

    # Then the worker fails the task with PROJ's reason, PROJ's message is one of our lines
    # (at INFO: the error is handled), and nothing reaches stderr bare
    task = stack.api.get(f"/api/tasks/{json.loads(response.body)['task_id']}")
    error = json.loads(task.body)["error"]
    assert error["code"] == "invalid_arguments"
    assert "function_args.target_srs" in error["message"]
    assert "not a CRS PROJ knows" in error["message"]
    [proj] = [line for line in lines.take() if "PROJ" in line["message"] and line["name"] == "rasterio._env"]
    assert proj["level"] == "INFO"
    assert "ERROR 1" not in capfd.readouterr().err


def test_a_function_name_the_catalog_lacks_is_counted_as_unknown(stack: Stack, emf: Any) -> None:
    # Given an upload whose metadata names a function that does not exist (anyone may write any name)
    notifications = Notifications(stack)
    notifications.received()
    boto3.client("s3").put_object(
        Bucket=stack.bucket, Key="incoming/x.jpg", Body=jpeg_bytes(8, 8), Metadata={"function-type": "mint-a-metric"}
    )
    emf()

    # When IngestFunction makes its failed task
    notifications.deliver()

    # Then it is counted, under function_type "unknown": no metric is made per name asked for
    [failed] = [doc for doc in emf() if "TaskFailed" in doc]
    assert failed["function_type"] == "unknown"
