"""Upload triggers: files dropped into incoming/ become tasks through IngestFunction.

The notifications are the ones moto's S3 really sends: the bucket is given the
notification template.yaml declares for IngestFunction, pointed at an SQS queue
(as S3 would invoke the function, minus the Lambda), and the handler is called
with each message's body, ``{"Records": [...]}``.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests
from PIL import Image

from infra.events import load_event
from pixelmill.catalog import registry
from pixelmill.dal import get_stores
from pixelmill.logic.ingest import upload_task_id
from pixelmill.models.ids import image_key, incoming_image_id
from pixelmill.models.task import Task, TaskStatus
from pixelmill.settings import get_settings
from tests.imagegen import decode, encode, image_bytes, jpeg_bytes
from tests.integration.conftest import ALICE, ApiClient, Stack, iam_user

# Files are dropped into incoming/ by alice, an IAM user: S3 names her in each notification.
UPLOADER = f"AWS:{ALICE['user']}"

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import FilterRuleTypeDef, QueueConfigurationTypeDef


class Notifications:
    """The bucket's notifications for IngestFunction (as template.yaml declares them), delivered to a queue."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._sqs = boto3.client("sqs")
        self.url = self._sqs.create_queue(QueueName="ingest-notifications")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        configurations: list[QueueConfigurationTypeDef] = []
        for event in stack.resources.template.resources["IngestFunction"]["Properties"]["Events"].values():
            if event["Type"] != "S3":
                continue
            rules: list[FilterRuleTypeDef] = [
                {"Name": rule["Name"], "Value": rule["Value"]}
                for rule in event["Properties"]["Filter"]["S3Key"]["Rules"]
            ]
            configurations.append(
                {"QueueArn": arn, "Events": [event["Properties"]["Events"]], "Filter": {"Key": {"FilterRules": rules}}}
            )
        boto3.client("s3").put_bucket_notification_configuration(
            Bucket=stack.bucket, NotificationConfiguration={"QueueConfigurations": configurations}
        )

    def received(self, uploader: str | None = UPLOADER) -> list[dict[str, Any]]:
        """Every notification sent since the last call (S3's test event included), oldest first, naming
        ``uploader`` as the principal that wrote each object, as S3 does (moto's name nobody)."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                event = json.loads(message["Body"])
                for record in event.get("Records", []):
                    if uploader is not None:
                        record["userIdentity"] = {"principalId": uploader}
                events.append(event)
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, uploader: str | None = UPLOADER) -> list[Any]:
        """Hand every notification received so far to IngestFunction; what it answered to each."""
        return [self._stack.notify(event) for event in self.received(uploader)]


@pytest.fixture
def notifications(stack: Stack) -> Notifications:
    captured = Notifications(stack)
    captured.received()  # S3's s3:TestEvent, sent when the notification is configured
    return captured


def _put(stack: Stack, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
    boto3.client("s3").put_object(
        Bucket=stack.bucket, Key=key, Body=data, ContentType="image/jpeg", Metadata=metadata or {}
    )


def _tasks(stack: Stack, api: ApiClient | None = None, **query: str) -> list[dict[str, Any]]:
    response = (api or stack.api).get("/api/tasks/", query={name: [value] for name, value in query.items()})
    assert response.status == 200, response.body
    tasks: list[dict[str, Any]] = response.json()
    return tasks


def _process_all(stack: Stack) -> None:
    while stack.process_batch().received:
        pass


def _result(stack: Stack, task_id: str) -> tuple[dict[str, Any], bytes]:
    task = stack.api.get(f"/api/tasks/{task_id}/").json()
    assert task["status"] == "done", task
    return task, requests.get(task["result_url"], timeout=30).content


# --- the routes: metadata, rule, nothing ---------------------------------------------------


def test_the_upload_metadata_says_what_to_do(stack: Stack, notifications: Notifications) -> None:
    # Given a file dropped into incoming/ with its task in its metadata
    _put(
        stack,
        "incoming/batch-7/photo.jpg",
        jpeg_bytes(64, 48),
        {"function-type": "resize", "function-args": '{"width": 16}'},
    )

    # When S3's notification reaches IngestFunction
    assert notifications.deliver() == [{"queued": 1}]

    # Then the task is there, queued, on that file, and the processor finishes it
    [task] = _tasks(stack)
    assert task["image_id"] == incoming_image_id("incoming/batch-7/photo.jpg")
    assert (task["function_type"], task["function_args"], task["status"]) == ("resize", {"width": 16}, "queued")
    _process_all(stack)
    _, result = _result(stack, task["task_id"])
    assert decode(result).size == (16, 12)


def test_a_file_without_metadata_follows_the_rule_for_its_prefix(stack: Stack, notifications: Notifications) -> None:
    # Given the default rules (incoming/thumbnails/ → thumbnail 256 px) and a large photo there
    _put(stack, "incoming/thumbnails/big.jpg", jpeg_bytes(1024, 512))

    notifications.deliver()

    [task] = _tasks(stack)
    assert (task["function_type"], task["function_args"]) == ("thumbnail", {"size": 256})
    _process_all(stack)
    _, result = _result(stack, task["task_id"])
    assert decode(result).size == (256, 128)


def test_metadata_wins_over_the_rule(stack: Stack, notifications: Notifications) -> None:
    _put(stack, "incoming/thumbnails/grey.jpg", jpeg_bytes(32, 32), {"function-type": "grayscale"})

    notifications.deliver()

    [task] = _tasks(stack)
    assert (task["function_type"], task["function_args"]) == ("grayscale", {})


def test_the_longest_matching_prefix_wins(
    stack: Stack, notifications: Notifications, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [
        {"prefix": "incoming/", "function_type": "grayscale"},
        {"prefix": "incoming/small/", "function_type": "thumbnail", "function_args": {"size": 8}},
    ]
    monkeypatch.setenv("PIXELMILL_INGEST_RULES", json.dumps(rules))
    get_settings.cache_clear()
    _put(stack, "incoming/small/a.jpg", jpeg_bytes(32, 32))
    _put(stack, "incoming/b.jpg", jpeg_bytes(32, 32))

    notifications.deliver()

    assert sorted((t["function_type"], json.dumps(t["function_args"])) for t in _tasks(stack)) == [
        ("grayscale", "{}"),
        ("thumbnail", '{"size": 8}'),
    ]


def test_the_web_mercator_rule_asks_for_change_projection(stack: Stack, notifications: Notifications) -> None:
    # Given a file in incoming/web-mercator/ (a raster function: this deployment may not have it yet)
    _put(stack, "incoming/web-mercator/scene.jpg", jpeg_bytes(16, 16))

    notifications.deliver()

    # Then its task asks for change_projection to EPSG:3857: queued if the function exists, else failed saying so
    [task] = _tasks(stack)
    assert (task["function_type"], task["function_args"]) == ("change_projection", {"target_srs": "EPSG:3857"})
    if "change_projection" in registry:
        assert task["status"] == "queued"
    else:
        assert task["status"] == "failed"
        assert task["error"]["code"] == "invalid_function"
        assert "the rule for incoming/web-mercator/" in task["error"]["message"]
        assert "function_type: unknown function 'change_projection'" in task["error"]["message"]


def test_a_rule_naming_a_function_that_does_not_exist_gives_a_failed_task(
    stack: Stack, notifications: Notifications, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PIXELMILL_INGEST_RULES", '[{"prefix": "incoming/boom/", "function_type": "explode", "function_args": {}}]'
    )
    get_settings.cache_clear()
    _put(stack, "incoming/boom/a.jpg", jpeg_bytes(16, 16))

    assert notifications.deliver() == [{"failed": 1}]

    [task] = _tasks(stack, status="failed")
    assert task["error"]["code"] == "invalid_function"
    assert "unknown function 'explode'" in task["error"]["message"]
    assert stack.queue_depth(stack.queue_url) == 0


def test_a_malformed_rule_set_fails_the_notification_so_that_it_is_delivered_again(
    stack: Stack, notifications: Notifications, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a rule set that is not JSON
    _put(stack, "incoming/thumbnails/a.jpg", jpeg_bytes(16, 16))
    [event] = notifications.received()
    monkeypatch.setenv("PIXELMILL_INGEST_RULES", '[{"prefix": "incoming/"')
    get_settings.cache_clear()

    # Then the invocation fails (Lambda retries it, then keeps it in IngestDeadLetterQueue): nothing is lost
    with pytest.raises(RuntimeError, match="1 of 1 uploads not ingested"):
        stack.notify(event)

    # And once the rules are fixed, the same notification makes its task
    monkeypatch.delenv("PIXELMILL_INGEST_RULES")
    get_settings.cache_clear()
    assert stack.notify(event) == {"queued": 1}


def test_a_file_no_metadata_and_no_rule_speak_for_is_left_alone(stack: Stack, notifications: Notifications) -> None:
    _put(stack, "incoming/elsewhere/a.jpg", jpeg_bytes(16, 16))

    assert notifications.deliver() == [{"ignored": 1}]

    assert _tasks(stack) == []
    assert stack.queue_depth(stack.queue_url) == 0


# --- at least once ------------------------------------------------------------------------


def test_duplicate_notifications_make_one_task(stack: Stack, notifications: Notifications) -> None:
    # Given one upload and its notification delivered three times
    _put(stack, "incoming/thumbnails/once.jpg", jpeg_bytes(32, 32))
    [event] = notifications.received()

    outcomes = [stack.notify(event) for _ in range(3)]

    # Then one task, one message for the processor
    assert outcomes == [{"queued": 1}, {"duplicate": 1}, {"duplicate": 1}]
    assert len(_tasks(stack)) == 1
    assert stack.queue_depth(stack.queue_url) == 1


def test_a_multipart_upload_makes_one_task(stack: Stack, notifications: Notifications) -> None:
    # Given a multipart upload (moto notifies twice for it: ObjectCreated:Put and :CompleteMultipartUpload)
    s3 = boto3.client("s3")
    key = "incoming/thumbnails/multipart.jpg"
    upload = s3.create_multipart_upload(Bucket=stack.bucket, Key=key, ContentType="image/jpeg")
    part = s3.upload_part(
        Bucket=stack.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=jpeg_bytes(64, 64)
    )
    s3.complete_multipart_upload(
        Bucket=stack.bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    events = notifications.received()
    names = [event["Records"][0]["eventName"] for event in events]
    assert names == ["ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload"]

    outcomes = [stack.notify(event) for event in events]

    assert sum(outcome.get("queued", 0) for outcome in outcomes) == 1
    assert len(_tasks(stack)) == 1


def test_each_stored_version_of_a_key_gets_its_task(stack: Stack, notifications: Notifications) -> None:
    # Given a key uploaded, handled, then replaced by another file and handled again
    _put(stack, "incoming/thumbnails/same-name.jpg", jpeg_bytes(32, 32))
    notifications.deliver()
    _put(stack, "incoming/thumbnails/same-name.jpg", jpeg_bytes(48, 48))
    notifications.deliver()

    # Then each upload got its task
    assert len(_tasks(stack)) == 2


def test_a_notification_about_a_replaced_file_gives_the_current_file_one_task(
    stack: Stack, notifications: Notifications
) -> None:
    # Given a file replaced before its first notification is handled (an unversioned bucket keeps only the last)
    _put(stack, "incoming/thumbnails/quick.jpg", jpeg_bytes(32, 32), {"function-type": "grayscale"})
    _put(stack, "incoming/thumbnails/quick.jpg", jpeg_bytes(48, 48), {"function-type": "thumbnail"})

    outcomes = notifications.deliver()

    # Then both notifications name the file as it is now: one task, for what the last upload asked
    assert outcomes == [{"queued": 1}, {"duplicate": 1}]
    [task] = _tasks(stack)
    assert task["function_type"] == "thumbnail"


def test_a_task_stored_but_never_queued_is_queued_by_the_next_delivery(
    stack: Stack, notifications: Notifications
) -> None:
    # Given a delivery that stored the upload's task and stopped before queueing it
    key = "incoming/thumbnails/interrupted.jpg"
    _put(stack, key, jpeg_bytes(32, 32))
    [event] = notifications.received()
    stored = get_stores().images.head(key)
    assert stored is not None
    task_id = upload_task_id(stored)
    get_stores().tasks.create(
        Task(
            task_id=task_id,
            owner=stack.api.tenant,
            image_id=incoming_image_id(key),
            function_type="thumbnail",
            function_args={"size": 256},
        )
    )

    # When S3 delivers the notification again
    assert stack.notify(event) == {"duplicate": 1}

    # Then the same task is queued, once
    assert [t["task_id"] for t in _tasks(stack, status="queued")] == [task_id]
    assert stack.queue_depth(stack.queue_url) == 1


def test_a_queue_outage_leaves_no_task_and_the_retry_creates_it(stack: Stack, notifications: Notifications) -> None:
    # Given the task queue gone while a notification is handled
    _put(stack, "incoming/thumbnails/outage.jpg", jpeg_bytes(32, 32))
    [event] = notifications.received()
    sqs = boto3.client("sqs")
    name = stack.resources.template.attributes[("TaskQueue", "QueueName")]
    sqs.delete_queue(QueueUrl=stack.queue_url)

    # Then the invocation fails (Lambda retries it) and no half-made task is left
    with pytest.raises(RuntimeError, match="1 of 1 uploads not ingested"):
        stack.notify(event)
    assert _tasks(stack) == []

    # When the queue is back and Lambda retries the event, then the task is created and queued
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == stack.queue_url
    assert stack.notify(event) == {"queued": 1}
    assert len(_tasks(stack, status="queued")) == 1


# --- keys, bad requests, events to ignore ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["holiday photo.jpg", "été 2024 +50% (1).jpg", "日本/写真 #1?.jpg", "a&b=c;d'e\"f.jpg"]
)
def test_keys_arrive_url_encoded_and_are_decoded(stack: Stack, notifications: Notifications, name: str) -> None:
    # Given a file whose name has spaces, plus signs, percent signs and non-ASCII letters
    key = f"incoming/thumbnails/{name}"
    _put(stack, key, jpeg_bytes(300, 150))
    [event] = notifications.received()
    assert event["Records"][0]["s3"]["object"]["key"] != key  # S3 sends it URL-encoded

    stack.notify(event)

    # Then the task's image is that very object, readable through the API, and processed
    [task] = _tasks(stack)
    assert image_key(task["image_id"], stack.api.tenant) == key
    image = stack.api.get(f"/api/images/{task['image_id']}/")
    assert image.status == 200, image.body
    assert image.json()["size"] == len(boto3.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    _process_all(stack)
    _, result = _result(stack, task["task_id"])
    assert decode(result).size == (256, 128)


@pytest.mark.parametrize(
    ("metadata", "code", "says"),
    [
        ({"function-type": "resize", "function-args": "{width: 10"}, "invalid_metadata", "function-args: Invalid JSON"),
        ({"function-type": "resize", "function-args": "[10]"}, "invalid_metadata", "function-args"),
        ({"function-args": '{"width": 10}'}, "invalid_metadata", "function-type: Field required"),
        ({"function-type": "explode"}, "invalid_function", "function_type: unknown function 'explode'"),
        ({"function-type": "resize", "function-args": '{"width": 0}'}, "invalid_function", "function_args.width"),
        ({"function-type": "thumbnail", "function-args": '{"sise": 9}'}, "invalid_function", "function_args.sise"),
    ],
)
def test_a_bad_request_in_the_metadata_gives_a_failed_task_that_says_why(
    stack: Stack, notifications: Notifications, metadata: dict[str, str], code: str, says: str
) -> None:
    _put(stack, "incoming/thumbnails/bad.jpg", jpeg_bytes(16, 16), metadata)

    assert notifications.deliver() == [{"failed": 1}]

    # Then the failure is listed with its reason, and nothing reaches the processor
    [task] = _tasks(stack, status="failed")
    assert task["image_id"] == incoming_image_id("incoming/thumbnails/bad.jpg")
    assert task["error"]["code"] == code
    assert says in task["error"]["message"]
    assert "the upload's metadata" in task["error"]["message"]
    assert stack.queue_depth(stack.queue_url) == 0


def test_a_failed_request_is_not_made_again_by_a_duplicate(stack: Stack, notifications: Notifications) -> None:
    _put(stack, "incoming/x.jpg", jpeg_bytes(16, 16), {"function-type": "explode"})
    [event] = notifications.received()

    assert [stack.notify(event) for _ in range(2)] == [{"failed": 1}, {"duplicate": 1}]
    assert len(_tasks(stack)) == 1


def test_the_s3_test_event_is_ignored(stack: Stack) -> None:
    # Given the s3:TestEvent S3 sends when a notification is configured (taken from moto)
    captured = Notifications(stack)
    [test_event] = captured.received()
    assert test_event["Event"] == "s3:TestEvent"

    assert stack.notify(test_event) == {"ignored": 1}
    assert _tasks(stack) == []


def test_folder_markers_and_vanished_files_are_ignored(stack: Stack, notifications: Notifications) -> None:
    # Given the empty "folder" object the S3 console creates, and a file deleted before its notification is handled
    _put(stack, "incoming/thumbnails/", b"")
    _put(stack, "incoming/thumbnails/gone.jpg", jpeg_bytes(16, 16))
    boto3.client("s3").delete_object(Bucket=stack.bucket, Key="incoming/thumbnails/gone.jpg")

    assert notifications.deliver() == [{"ignored": 1}, {"ignored": 1}]
    assert _tasks(stack) == []


# --- the event fixture for `sam local invoke` ---------------------------------------------


def test_the_fixture_event_creates_the_rule_task(stack: Stack) -> None:
    # Given the file events/s3-incoming-put.json is about ("+" is a space)
    event = load_event("s3-incoming-put.json")
    assert event["Records"][0]["s3"]["bucket"]["name"] == stack.bucket
    _put(stack, "incoming/thumbnails/holiday photo.jpg", jpeg_bytes(64, 32))

    assert stack.notify(event) == {"queued": 1}

    # Then the task is the uploader's (the principal the event names): theirs to list, nobody else's
    uploader = iam_user("uploader", "AIDAJDPLRKLG7UEXAMPLE")
    assert event["Records"][0]["userIdentity"]["principalId"] == f"AWS:{uploader['user']}"
    assert _tasks(stack) == []
    [task] = _tasks(stack, api=stack.api.as_caller(uploader))
    assert image_key(task["image_id"], uploader["user"]) == "incoming/thumbnails/holiday photo.jpg"
    assert task["function_type"] == "thumbnail"


def test_the_fixture_has_the_shape_of_what_moto_delivers(stack: Stack, notifications: Notifications) -> None:
    # Given a notification moto sends for a real upload, and the fixture (what S3 sends, per AWS's documentation)
    _put(stack, "incoming/thumbnails/holiday photo.jpg", jpeg_bytes(16, 16))
    [delivered] = notifications.received()
    [fixture_record] = load_event("s3-incoming-put.json")["Records"]
    [record] = delivered["Records"]

    # Then every field moto sends is in the fixture, at the same place, with the same kind of value
    assert set(delivered) == {"Records"}
    assert set(record) <= set(fixture_record)
    for part in ("s3", "bucket", "object"):
        theirs = record["s3"] if part == "s3" else record["s3"][part]
        ours = fixture_record["s3"] if part == "s3" else fixture_record["s3"][part]
        assert set(theirs) <= set(ours), part
        assert {k: type(v) for k, v in theirs.items()} == {k: type(ours[k]) for k in theirs}, part
    assert (record["eventVersion"], record["eventSource"], record["eventName"]) == (
        fixture_record["eventVersion"],
        fixture_record["eventSource"],
        fixture_record["eventName"],
    )
    # And the fields real S3 adds that moto leaves out are only these (the handler needs none of them)
    assert set(fixture_record) - set(record) <= {"userIdentity", "requestParameters", "responseElements"}
    assert set(fixture_record["s3"]["object"]) - set(record["s3"]["object"]) <= {"sequencer", "versionId"}


# --- POST /api/images/ with a task: presigned POST to incoming/ ----------------------------


def test_an_upload_started_with_a_task_is_processed_on_arrival(stack: Stack, notifications: Notifications) -> None:
    # Given an upload started with the task to run on it
    response = stack.api.post(
        "/api/images/",
        json_body={"content_type": "image/png", "function_type": "thumbnail", "function_args": {"size": "32"}},
    )
    assert response.status == 200, response.body
    upload = response.json()
    fields = upload["upload"]["fields"]

    # Then the POST goes to the caller's uploads, and its policy fixes the validated request in the metadata
    key = fields["key"]
    assert key == f"uploads/{stack.api.tenant}/{upload['image_id']}"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"x-amz-meta-function-type": "thumbnail"} in policy["conditions"]
    assert {"x-amz-meta-function-args": '{"size":32}'} in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]

    # When the client uploads the file through it (no other API call)
    posted = requests.post(
        upload["upload"]["url"], data=fields, files={"file": ("a.png", image_bytes("PNG", 128, 64))}, timeout=30
    )
    assert posted.status_code == 204, posted.text
    [event] = notifications.received()
    assert event["Records"][0]["eventName"] == "ObjectCreated:Post"
    assert stack.notify(event) == {"queued": 1}

    # Then the task is found by the image id, and the processor finishes it
    [task] = _tasks(stack, image_id=upload["image_id"])
    assert (task["function_type"], task["function_args"]) == ("thumbnail", {"size": 32})
    _process_all(stack)
    _, result = _result(stack, task["task_id"])
    assert decode(result).size == (32, 16)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"function_type": "explode"}, "function_type"),
        ({"function_type": "thumbnail", "function_args": {"size": 0}}, "function_args.size"),
        ({"function_type": "thumbnail", "function_args": {"sise": 9}}, "function_args.sise"),
        ({"function_args": {"size": 9}}, "function_type"),
        ({"function_type": ""}, "function_type"),
    ],
)
def test_an_upload_asking_for_a_bad_task_is_a_400_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    response = stack.api.post("/api/images/", json_body={"content_type": "image/png", **body})

    assert response.status == 400, response.body
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_an_upload_whose_arguments_do_not_fit_in_s3_metadata_is_a_400(stack: Stack) -> None:
    # Given a valid pipeline whose arguments are longer than the 2 KB of metadata S3 keeps
    step = {
        "function_type": "rotate",
        "function_args": {"angle": 1.2345678901234567, "expand": True, "fill": "#ffffffff"},
    }
    arguments = {"steps": [step] * 20}
    assert len(json.dumps(arguments, separators=(",", ":"))) > 2048

    response = stack.api.post(
        "/api/images/", json_body={"content_type": "image/png", "function_type": "pipeline", "function_args": arguments}
    )

    assert response.status == 400, response.body
    assert [error["field"] for error in response.json()["errors"]] == ["function_args"]


@pytest.mark.parametrize("image_id", ["in-AAAAA", "in-_w", "in-Zm9vYh"])
def test_an_incoming_image_id_that_names_no_key_is_a_400(stack: Stack, image_id: str) -> None:
    # Base64 of the wrong length, of bytes that are not UTF-8, or a non-canonical spelling of "foob" (Zm9vYg)
    image = stack.api.get(f"/api/images/{image_id}/")
    task = stack.api.post("/api/tasks/", json_body={"image_id": image_id, "function_type": "grayscale"})

    assert image.status == 400, image.body
    assert task.status == 400, task.body
    assert [e["field"] for e in image.json()["errors"]] == ["image_id"]
    assert [e["field"] for e in task.json()["errors"]] == ["image_id"]


def test_a_task_can_be_made_by_hand_on_an_incoming_file(stack: Stack, notifications: Notifications) -> None:
    # Given a file in incoming/ (its own task made by the rule)
    _put(stack, "incoming/thumbnails/twice.jpg", jpeg_bytes(40, 20))
    notifications.deliver()

    # When a client asks for another task on it through the API
    response = stack.api.post(
        "/api/tasks/",
        json_body={"image_id": incoming_image_id("incoming/thumbnails/twice.jpg"), "function_type": "grayscale"},
    )

    # Then it is created like any other
    assert response.status == 200, response.body
    assert len(_tasks(stack, image_id=incoming_image_id("incoming/thumbnails/twice.jpg"))) == 2
    assert TaskStatus(response.json()["status"]) is TaskStatus.QUEUED


def _centre(answer: dict[str, Any]) -> tuple[int, ...]:
    """The centre pixel of an image URL's answer."""
    image = decode(base64.b64decode(answer["body"])).convert("RGB")
    pixel = image.getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return pixel


def test_a_file_written_again_under_its_name_is_what_its_image_urls_show(
    stack: Stack, notifications: Notifications
) -> None:
    # Given a file in incoming/ that alice rendered through an image URL, and another file's render
    key, other = "incoming/renders/photo.jpg", "incoming/renders/other.jpg"
    for name in (key, other):
        _put(stack, name, encode(Image.new("RGB", (64, 48), (200, 30, 30)), "JPEG"))
    notifications.deliver()
    steps = [{"function_type": "resize", "function_args": {"width": 16}}]
    paths = [
        stack.api.post("/api/urls/", json_body={"image_id": incoming_image_id(name), "steps": steps}).json()["path"]
        for name in (key, other)
    ]
    assert _centre(stack.get_image_url(paths[0]))[0] > 150  # red
    assert stack.get_image_url(paths[1])["headers"]["X-Pixelmill-Cache"] == "miss"
    # When she writes the file again, in another colour, and S3 tells IngestFunction
    _put(stack, key, encode(Image.new("RGB", (64, 48), (30, 30, 200)), "JPEG"))
    notifications.deliver()
    # Then its URL shows the new file, and the other file's render is still cached
    again = stack.get_image_url(paths[0])
    assert again["headers"]["X-Pixelmill-Cache"] == "miss"
    assert _centre(again)[2] > 150  # blue
    assert stack.get_image_url(paths[1])["headers"]["X-Pixelmill-Cache"] == "hit"
