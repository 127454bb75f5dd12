"""template.yaml's content: what `sam validate` and cfn-lint do not check for us.

Neither looks deeply into ``AWS::Serverless::*`` properties (a bad Runtime passes), and
neither knows our invariants: visibility timeout vs function timeout, the DLQ count the
code reads, tasks per batch vs the Lambda timeout, the table's indexes, least privilege.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pixelmill.logic.tasks import UPLOAD_MARGIN
from pixelmill.models.task import TASK_LIFETIME
from pixelmill.settings import Settings
from tests.infrastructure.sam_template import (
    FUNCTION,
    LAYER,
    REPO_ROOT,
    Template,
    as_list,
    environment,
    functions,
    getatt_target,
    inline_statements,
    ref_target,
    resource_text,
    resources_of_type,
)

RUNTIME = "python3.13"
ARCHITECTURE = "x86_64"
LAMBDA_MAX_TIMEOUT = 900
API_GATEWAY_MAX_TIMEOUT = 29
BUCKET = "${ImagesBucket.Arn}"
# The bucket's name, spelled out where a reference to ImagesBucket would make a cycle (IngestFunction).
BUCKET_NAME = "${AWS::StackName}-images-${AWS::AccountId}-${AWS::Region}"
BUCKET_ARN_BY_NAME = "arn:${AWS::Partition}:s3:::" + BUCKET_NAME


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


def _sqs_events(template: Template, logical_id: str) -> list[dict[str, Any]]:
    """The function's SQS triggers: SAM ``Type: SQS`` events and explicit event-source mappings
    (their ``EventSourceArn`` as ``Queue``)."""
    events = [e["Properties"] for e in functions(template)[logical_id].get("Events", {}).values() if e["Type"] == "SQS"]
    for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values():
        if ref_target(mapping["Properties"]["FunctionName"]) == logical_id:
            events.append({**mapping["Properties"], "Queue": mapping["Properties"]["EventSourceArn"]})
    return events


def _default(template: Template, parameter: str) -> int:
    return int(template["Parameters"][parameter]["Default"])


# --- runtime and build -----------------------------------------------------------------


def test_every_function_runs_python313_on_the_architecture_parameter(template: Template) -> None:
    # Given the Architecture parameter: x86_64 by default, arm64 (Graviton) the option
    parameter = template["Parameters"]["Architecture"]
    assert (parameter["Default"], parameter["AllowedValues"]) == (ARCHITECTURE, [ARCHITECTURE, "arm64"])
    # And every function with the template's Globals applied
    for logical_id, properties in functions(template).items():
        # Then it runs on python3.13 (Amazon Linux 2023), on that architecture, zip-packaged
        assert properties.get("Runtime") == RUNTIME, logical_id
        assert properties.get("Architectures") == [{"Ref": "Architecture"}], logical_id
        assert properties.get("PackageType", "Zip") == "Zip", logical_id
        assert properties.get("Tracing") == "Active", logical_id


def test_every_layer_is_for_python313_on_the_architecture_parameter(template: Template) -> None:
    layers = resources_of_type(template, LAYER)
    assert set(layers) == {"PixelmillLayer", "CoreLayer", "ImagingLayer"}
    for logical_id, layer in layers.items():
        assert layer["Properties"]["CompatibleRuntimes"] == [RUNTIME], logical_id
        assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}], logical_id


def test_every_function_uses_the_core_layers_and_only_those_that_transform_the_imaging_one(template: Template) -> None:
    for logical_id, properties in functions(template).items():
        layers = [ref_target(layer) for layer in properties.get("Layers", [])]
        transforms = logical_id in ("ProcessorFunction", "RenderFunction")
        expected = ["PixelmillLayer", "CoreLayer", *(["ImagingLayer"] if transforms else [])]
        assert layers == expected, logical_id


@pytest.mark.parametrize("resource_type", [FUNCTION, LAYER])
def test_everything_builds_with_its_makefile(template: Template, resource_type: str) -> None:
    # Given every function and layer (sam build needs no Docker and no local 3.13 this way)
    for logical_id, resource in resources_of_type(template, resource_type).items():
        metadata = resource.get("Metadata", {})
        # Then sam build runs `make build-<LogicalId>` with the Makefile next to its code
        assert metadata.get("BuildMethod") == "makefile", logical_id
        code = resource["Properties"].get("CodeUri") or resource["Properties"].get("ContentUri")
        makefile = REPO_ROOT / str(metadata.get("ContextPath", code)) / "Makefile"
        assert makefile.is_file(), f"{logical_id}: no {makefile.relative_to(REPO_ROOT)}"
        assert f"build-{logical_id}" in _make_targets(makefile), f"{makefile} lacks build-{logical_id}"


def _make_targets(makefile: Path) -> set[str]:
    """The explicit targets of a Makefile's rules (``a b: deps`` names both a and b)."""
    rules = re.findall(r"^([^\s#=:][^#=:\n]*):(?!=)", makefile.read_text(encoding="utf-8"), re.MULTILINE)
    return {target for rule in rules for target in rule.split()}


@pytest.mark.parametrize(("layer_id", "group"), [("CoreLayer", "core.in"), ("ImagingLayer", "imaging.in")])
def test_library_layers_are_built_from_the_runtime_lock(template: Template, layer_id: str, group: str) -> None:
    # One lock for Lambda and the local environment: requirements/runtime.txt, resolved from both groups
    layer = template["Resources"][layer_id]
    source = REPO_ROOT / layer["Properties"]["ContentUri"]
    assert (source / "runtime.txt").is_file()
    assert {f"-r {name}" for name in ("core.in", "imaging.in")} <= set((source / "runtime.in").read_text().splitlines())
    makefile = REPO_ROOT / layer["Metadata"]["ContextPath"] / "Makefile"
    shared = (makefile.parent.parent / "wheels.mk").read_text(encoding="utf-8")
    assert "--python-version 3.13" in shared
    assert "--only-binary=:all:" in shared
    assert "LOCK ?= runtime.txt" in shared
    assert f"$(call install_group,{group})" in makefile.read_text(encoding="utf-8")


# --- functions -------------------------------------------------------------------------


def test_function_sizes_and_timeouts(template: Template) -> None:
    fns = functions(template)
    assert fns["ApiFunction"]["MemorySize"] == 512
    assert fns["ApiFunction"]["Timeout"] <= API_GATEWAY_MAX_TIMEOUT
    assert fns["ProcessorFunction"]["MemorySize"] == 2048
    assert fns["ProcessorFunction"]["Timeout"] == 300
    assert fns["ProcessorFunction"]["EphemeralStorage"]["Size"] >= 4096  # rasters go through /tmp
    for logical_id, properties in fns.items():
        assert 0 < properties["Timeout"] <= LAMBDA_MAX_TIMEOUT, logical_id
        assert properties["Handler"] == "app.lambda_handler", logical_id


def test_processor_sets_gdal_from_its_environment_within_its_memory(template: Template) -> None:
    # Given the processor's environment and memory, and the raster working-memory parameter
    processor = functions(template)["ProcessorFunction"]
    env = environment(processor)
    # Then GDAL lists no directory on open (no side-car file is looked for), uses every CPU
    assert env["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
    assert env["GDAL_NUM_THREADS"] == "ALL_CPUS"
    # And its cache plus the largest allowed raster budget leave room for Python and the libraries
    cache_mb = int(env["GDAL_CACHEMAX"])
    budget = template["Parameters"]["RasterMemoryMiB"]
    assert ref_target(env["PIXELMILL_RASTER_MEMORY_MIB"]) == "RasterMemoryMiB"
    assert budget["MinValue"] <= budget["Default"] <= budget["MaxValue"]
    assert cache_mb + budget["MaxValue"] + 512 <= processor["MemorySize"]
    # And only the processor runs GDAL on rasters
    assert not any(
        "GDAL_CACHEMAX" in environment(p) for name, p in functions(template).items() if name != "ProcessorFunction"
    )


def test_queue_visibility_timeout_is_the_consumer_timeout_and_the_heartbeat_shorter(template: Template) -> None:
    # Given each function fed by an SQS queue
    consumers = 0
    for logical_id, properties in functions(template).items():
        for event in _sqs_events(template, logical_id):
            consumers += 1
            queue_id, _ = getatt_target(event["Queue"]) or ("?", "")
            # Then the queue hides a message for at least the function's timeout (AWS refuses the event
            # source otherwise), and no longer: a failed delivery is retried after it
            visibility = _properties(template, queue_id)["VisibilityTimeout"]
            assert visibility == properties["Timeout"], f"{queue_id} {visibility} s vs {logical_id}"
            # And the worker's own visibility (its heartbeat) is shorter, so that a dead worker costs less
            assert _default(template, "TaskVisibilitySeconds") < visibility
            assert template["Parameters"]["TaskVisibilitySeconds"]["MaxValue"] <= visibility
    assert consumers == 1


def _s3_events(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["Properties"] for e in properties.get("Events", {}).values() if e.get("Type") == "S3"]


def test_ingest_is_triggered_by_every_file_created_under_incoming_and_uploads(template: Template) -> None:
    # Given the S3 events of every function
    triggered = {logical_id: _s3_events(properties) for logical_id, properties in functions(template).items()}
    # Then only IngestFunction has them: any ObjectCreated in the images bucket, under incoming/
    # (files dropped there) and uploads/ (the API's uploads, which may ask for a task)
    assert {logical_id for logical_id, events in triggered.items() if events} == {"IngestFunction"}
    prefixes = []
    for event in triggered["IngestFunction"]:
        assert ref_target(event["Bucket"]) == "ImagesBucket"
        assert event["Events"] == "s3:ObjectCreated:*"
        [rule] = event["Filter"]["S3Key"]["Rules"]
        assert rule["Name"] == "prefix"
        prefixes.append(rule["Value"])
    assert sorted(prefixes) == ["incoming/", "uploads/"]


def test_ingest_events_that_keep_failing_are_kept(template: Template) -> None:
    # S3 invokes asynchronously: after Lambda's retries a failing notification goes to a queue, not away
    ingest = functions(template)["IngestFunction"]
    assert ingest["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    assert ingest["DeadLetterQueue"]["Type"] == "SQS"
    assert getatt_target(ingest["DeadLetterQueue"]["TargetArn"]) == ("IngestDeadLetterQueue", "Arn")


def test_ingest_rules_parameter_is_one_json_array(template: Template) -> None:
    parameter = template["Parameters"]["IngestRules"]
    assert parameter["Type"] == "String"
    pattern = parameter["AllowedPattern"]
    for value in (parameter["Default"], "", "[]"):
        assert re.fullmatch(pattern, value), value
    assert not re.fullmatch(pattern, '{"prefix": "incoming/"}')


def test_processor_reads_task_queue_in_batches_with_partial_failures(template: Template) -> None:
    [event] = _sqs_events(template, "ProcessorFunction")
    assert getatt_target(event["Queue"]) == ("TaskQueue", "Arn")
    assert event["BatchSize"] == 5
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 <= event.get("MaximumBatchingWindowInSeconds", 0) <= 5


def test_a_full_batch_of_tasks_fits_in_the_processor_timeout(template: Template) -> None:
    # Given the processor's batch size, its timeout and the per-task timeout it is given
    processor = functions(template)["ProcessorFunction"]
    [event] = _sqs_events(template, "ProcessorFunction")
    assert ref_target(environment(processor)["PIXELMILL_TASK_TIMEOUT_SECONDS"]) == "TaskTimeoutSeconds"
    task_timeout = template["Parameters"]["TaskTimeoutSeconds"]
    # Then batch size x task timeout stays below the Lambda timeout, for the default and the largest allowed value
    for value in (int(task_timeout["Default"]), int(task_timeout["MaxValue"])):
        assert event["BatchSize"] * value < processor["Timeout"], value


def test_dead_letter_count_is_one_parameter_shared_by_queue_and_code(template: Template) -> None:
    # Given the queue's redrive policy and the processor's settings
    redrive = _properties(template, "TaskQueue")["RedrivePolicy"]
    # Then both name the MaxReceiveCount parameter (3 by default), so the processor knows the last attempt
    assert getatt_target(redrive["deadLetterTargetArn"]) == ("TaskDeadLetterQueue", "Arn")
    assert ref_target(redrive["maxReceiveCount"]) == "MaxReceiveCount"
    assert _default(template, "MaxReceiveCount") == 3
    for logical_id, properties in functions(template).items():
        assert ref_target(environment(properties)["PIXELMILL_MAX_RECEIVE_COUNT"]) == "MaxReceiveCount", logical_id


def test_queues_are_encrypted_and_dead_letters_kept_14_days(template: Template) -> None:
    queues = resources_of_type(template, "AWS::SQS::Queue")
    assert set(queues) == {"TaskQueue", "TaskDeadLetterQueue", "IngestDeadLetterQueue"}
    for queue_id in queues:
        assert _properties(template, queue_id)["SqsManagedSseEnabled"] is True, queue_id
    for queue_id in ("TaskDeadLetterQueue", "IngestDeadLetterQueue"):
        assert _properties(template, queue_id)["MessageRetentionPeriod"] == 14 * 24 * 3600, queue_id
    dead_letters = _properties(template, "TaskDeadLetterQueue")
    # A message's age counts from its first enqueue: the DLQ must keep it longer than the queue did
    assert _properties(template, "TaskQueue")["MessageRetentionPeriod"] < dead_letters["MessageRetentionPeriod"]


# --- storage ---------------------------------------------------------------------------


def test_bucket_is_named_once_for_the_stack_and_everyone_uses_that_name(template: Template) -> None:
    # Given the bucket's name (a name, so that IngestFunction can be granted it without a cycle)
    assert _properties(template, "ImagesBucket")["BucketName"] == {"Fn::Sub": BUCKET_NAME}
    # Then the functions are told that name, and IngestFunction's grants use it
    for logical_id, properties in functions(template).items():
        assert environment(properties)["PIXELMILL_IMAGES_BUCKET"] == {"Fn::Sub": BUCKET_NAME}, logical_id
    ingest = [
        resource_text(r)
        for s in inline_statements(functions(template)["IngestFunction"])
        for r in as_list(s["Resource"])
    ]
    assert BUCKET_ARN_BY_NAME in ingest
    assert f"{BUCKET_ARN_BY_NAME}/incoming/*" in ingest


def test_nothing_of_ingest_function_refers_to_the_bucket_resource(template: Template) -> None:
    # The bucket's notification depends on IngestFunction: a reference back is a dependency cycle
    properties = {key: value for key, value in functions(template)["IngestFunction"].items() if key != "Events"}
    assert "ImagesBucket" not in repr(properties)


def test_bucket_is_private_and_encrypted(template: Template) -> None:
    bucket = _properties(template, "ImagesBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_policy_refuses_plain_http(template: Template) -> None:
    [policy] = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    assert ref_target(policy["Properties"]["Bucket"]) == "ImagesBucket"
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": False}}


def test_bucket_cors_allows_browser_uploads_and_downloads(template: Template) -> None:
    [rule] = _properties(template, "ImagesBucket")["CorsConfiguration"]["CorsRules"]
    assert {"GET", "POST"} <= set(rule["AllowedMethods"])
    assert "PUT" not in rule["AllowedMethods"]
    assert ref_target(rule["AllowedOrigins"][0]) == "AllowedOrigin"


def test_bucket_expires_results_and_aborted_uploads(template: Template) -> None:
    rules = {r["Id"]: r for r in _properties(template, "ImagesBucket")["LifecycleConfiguration"]["Rules"]}
    expire = rules["ExpireResults"]
    assert expire["Status"] == "Enabled"
    assert expire["Prefix"] == "results/"
    assert ref_target(expire["ExpirationInDays"]) == "ResultRetentionDays"
    assert _default(template, "ResultRetentionDays") == 7
    for rule_id, prefix in (("ExpireUploads", "uploads/"), ("ExpireIncoming", "incoming/")):
        assert rules[rule_id]["Status"] == "Enabled"
        assert rules[rule_id]["Prefix"] == prefix
        assert ref_target(rules[rule_id]["ExpirationInDays"]) == "UploadRetentionDays"
    abort = rules["AbortIncompleteMultipartUploads"]
    assert abort["Status"] == "Enabled"
    assert "Prefix" not in abort
    assert abort["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1


def test_an_upload_outlives_every_task_created_on_it(template: Template) -> None:
    # Tasks are only created on uploads S3 keeps longer than a task stays unfinished: as long as
    # the queue keeps its message, plus a margin; and every allowed retention leaves a day for that.
    retention = int(_properties(template, "TaskQueue")["MessageRetentionPeriod"])
    assert retention == TASK_LIFETIME.total_seconds()
    minimum = template["Parameters"]["UploadRetentionDays"]["MinValue"]
    assert minimum == Settings.model_fields["upload_retention_days"].metadata[0].ge
    assert timedelta(days=minimum) >= TASK_LIFETIME + UPLOAD_MARGIN + timedelta(days=1)


def test_tasks_table_keys_indexes_ttl_and_recovery(template: Template) -> None:
    table = _properties(template, "TasksTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "task_id", "KeyType": "HASH"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "task_id": "S",
        "owner": "S",
        "owner_image": "S",
        "unfinished_owner": "S",
    }
    indexes = {
        index["IndexName"]: (
            [(key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in table["GlobalSecondaryIndexes"]
    }
    # All partitioned by owner and sorted by task_id, a ULID: a caller's newest first without a scan
    assert indexes == {
        "ByOwner": ([("owner", "HASH"), ("task_id", "RANGE")], "ALL"),
        "ByOwnerImage": ([("owner_image", "HASH"), ("task_id", "RANGE")], "ALL"),
        "ByOwnerUnfinished": ([("unfinished_owner", "HASH"), ("task_id", "RANGE")], "KEYS_ONLY"),
    }
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True


@pytest.mark.parametrize("logical_id", ["ImagesBucket", "TasksTable"])
def test_data_survives_stack_deletion_and_replacement(template: Template, logical_id: str) -> None:
    resource = template["Resources"][logical_id]
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"


# --- permissions -----------------------------------------------------------------------


def _s3_grants(template: Template, logical_id: str) -> set[tuple[str, str]]:
    """(action, resource) of the function's inline S3 statements, resources relative to the bucket."""
    grants: set[tuple[str, str]] = set()
    for statement in inline_statements(functions(template)[logical_id]):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            if not action.startswith("s3:"):
                continue
            for resource in as_list(statement["Resource"]):
                text = resource_text(resource).replace(BUCKET_ARN_BY_NAME, BUCKET)
                assert text.startswith(BUCKET), f"{logical_id}: {action} on {text}"
                grants.add((action, text.removeprefix(BUCKET).removeprefix("/")))
    return grants


def test_no_inline_statement_grants_everything(template: Template) -> None:
    for logical_id, properties in functions(template).items():
        for statement in inline_statements(properties):
            assert "*" not in as_list(statement["Action"]), logical_id
            assert "*" not in [resource_text(r) for r in as_list(statement["Resource"])], logical_id
            assert all(not a.endswith(":*") for a in as_list(statement["Action"])), logical_id


def _list_prefixes(template: Template, logical_id: str) -> set[str]:
    """The ``s3:prefix`` values the function's ListBucket is limited to (every grant must be)."""
    prefixes: set[str] = set()
    for statement in inline_statements(functions(template)[logical_id]):
        if "s3:ListBucket" in as_list(statement["Action"]):
            assert as_list(statement["Action"]) == ["s3:ListBucket"], logical_id
            prefixes |= set(as_list(statement["Condition"]["StringLike"]["s3:prefix"]))
    return prefixes


def test_api_may_presign_uploads_and_read_and_delete_results_and_their_renders_but_not_write_them(
    template: Template,
) -> None:
    assert _s3_grants(template, "ApiFunction") == {
        ("s3:GetObject", "uploads/*"),
        ("s3:GetObject", "incoming/*"),
        ("s3:GetObject", "results/*"),
        ("s3:PutObject", "uploads/*"),  # presigned POSTs, to uploads/ only
        ("s3:DeleteObject", "results/*"),
        ("s3:DeleteObject", "cache/*"),  # a deleted result's renders cached for image URLs
        ("s3:ListBucket", ""),
        ("s3:GetObjectTagging", "incoming/*"),  # who owns a file dropped into incoming/
    }
    assert _list_prefixes(template, "ApiFunction") == {"uploads/*", "incoming/*", "results/*", "cache/*"}


def test_processor_reads_images_and_writes_only_results(template: Template) -> None:
    assert _s3_grants(template, "ProcessorFunction") == {
        ("s3:GetObject", "uploads/*"),
        ("s3:GetObject", "incoming/*"),
        ("s3:GetObject", "results/*"),
        ("s3:PutObject", "results/*"),
        ("s3:DeleteObject", "results/*"),
        ("s3:ListBucket", ""),
    }
    assert _list_prefixes(template, "ProcessorFunction") == {"uploads/*", "incoming/*", "results/*"}


def test_ingest_reads_uploads_and_only_tags_incoming(template: Template) -> None:
    # HEAD (metadata, and a version if the bucket keeps versions); no object written, only its owner
    # tagged; the renders image URLs cached of a file written before deleted
    assert _s3_grants(template, "IngestFunction") == {
        ("s3:GetObject", "incoming/*"),
        ("s3:GetObjectVersion", "incoming/*"),
        ("s3:GetObject", "uploads/*"),
        ("s3:GetObjectVersion", "uploads/*"),
        ("s3:PutObjectTagging", "incoming/*"),
        ("s3:DeleteObject", "cache/*"),
        ("s3:ListBucket", ""),
    }
    assert _list_prefixes(template, "IngestFunction") == {"incoming/*", "uploads/*", "cache/*"}


def test_ingest_creates_tasks_and_queues_them(template: Template) -> None:
    statements = list(inline_statements(functions(template)["IngestFunction"]))
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    # Conditional create, read, queued (update), taken back when the queue refuses (delete); and a
    # Query of the owner's unfinished tasks (the quota), that index only; no Scan
    assert [sorted(as_list(s["Action"])) for s in dynamodb] == [
        ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        ["dynamodb:Query"],
    ]
    assert [getatt_target(r) for r in as_list(dynamodb[0]["Resource"])] == [("TasksTable", "Arn")]
    assert [resource_text(r) for r in as_list(dynamodb[1]["Resource"])] == ["${TasksTable.Arn}/index/ByOwnerUnfinished"]
    assert _sqs_grants(template, "IngestFunction") == {("sqs:SendMessage", "TaskQueue")}


def _policy_templates(template: Template, logical_id: str) -> dict[str, Any]:
    policies = functions(template)[logical_id].get("Policies", [])
    return {name: value for policy in policies if isinstance(policy, dict) for name, value in policy.items()}


def _grants(template: Template, logical_id: str, service: str) -> set[tuple[str, str]]:
    """(action, resource) of the function's inline statements for one service; a resource as its
    logical id, with a ``/index/*`` suffix where it is a table's indexes."""
    grants: set[tuple[str, str]] = set()
    for statement in inline_statements(functions(template)[logical_id]):
        for action in as_list(statement["Action"]):
            if action.startswith(f"{service}:"):
                for resource in as_list(statement["Resource"]):
                    target = getatt_target(resource)
                    text = (
                        f"{target[0]}" if target else resource_text(resource).replace("${TasksTable.Arn}", "TasksTable")
                    )
                    grants.add((action, text))
    return grants


def _sqs_grants(template: Template, logical_id: str) -> set[tuple[str, str]]:
    return _grants(template, logical_id, "sqs")


def test_every_function_is_granted_named_actions_only_no_sam_policy_templates(template: Template) -> None:
    # Policy templates (DynamoDBCrudPolicy, SQSPollerPolicy, …) grant more than a function calls
    for logical_id in functions(template):
        policies = _policy_templates(template, logical_id)
        assert set(policies) <= {"Version", "Statement"}, (logical_id, sorted(policies))


def test_api_reaches_the_table_and_its_indexes_with_named_actions_and_sends_to_the_queue(template: Template) -> None:
    assert _grants(template, "ApiFunction", "dynamodb") == {
        ("dynamodb:GetItem", "TasksTable"),
        ("dynamodb:PutItem", "TasksTable"),
        ("dynamodb:UpdateItem", "TasksTable"),
        ("dynamodb:DeleteItem", "TasksTable"),
        ("dynamodb:Query", "TasksTable/index/*"),  # listings query only the indexes
    }
    assert _sqs_grants(template, "ApiFunction") == {("sqs:SendMessage", "TaskQueue")}


def test_processor_gets_and_updates_tasks_and_polls_only_its_queue(template: Template) -> None:
    assert _grants(template, "ProcessorFunction", "dynamodb") == {
        ("dynamodb:GetItem", "TasksTable"),
        ("dynamodb:UpdateItem", "TasksTable"),
    }
    assert _sqs_grants(template, "ProcessorFunction") == {
        ("sqs:ReceiveMessage", "TaskQueue"),
        ("sqs:DeleteMessage", "TaskQueue"),
        ("sqs:ChangeMessageVisibility", "TaskQueue"),
        ("sqs:GetQueueAttributes", "TaskQueue"),
    }


def test_no_function_has_a_sam_sqs_event_which_would_grant_every_queue(template: Template) -> None:
    # SAM's `Type: SQS` event attaches AWSLambdaSQSQueueExecutionRole (Resource "*")
    for logical_id, properties in functions(template).items():
        assert all(event["Type"] != "SQS" for event in properties.get("Events", {}).values()), logical_id
    # The processor's trigger is an explicit mapping of TaskQueue, partial batch failures reported
    [mapping] = resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    assert ref_target(properties["FunctionName"]) == "ProcessorFunction"
    assert getatt_target(properties["EventSourceArn"]) == ("TaskQueue", "Arn")
    assert properties["BatchSize"] == 5
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert ref_target(properties["ScalingConfig"]["MaximumConcurrency"]) == "ProcessorMaxConcurrency"


@pytest.mark.parametrize(
    ("logical_id", "parameter"),
    [
        ("ApiFunction", "ApiReservedConcurrency"),
        ("IngestFunction", "IngestReservedConcurrency"),
        ("ProcessorFunction", "ProcessorReservedConcurrency"),
        ("SweeperFunction", "SweeperReservedConcurrency"),
    ],
)
def test_reserved_concurrency_is_a_parameter_per_function_off_by_default(
    template: Template, logical_id: str, parameter: str
) -> None:
    # -1 reserves nothing: a new account (10 concurrent executions, all unreserved) can deploy
    assert template["Parameters"][parameter]["Default"] == -1
    condition, value, otherwise = functions(template)[logical_id]["ReservedConcurrentExecutions"]["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, -1]}]}
    assert ref_target(value) == parameter
    assert otherwise == {"Ref": "AWS::NoValue"}


# --- API and outputs -------------------------------------------------------------------


def test_api_is_a_rest_api_with_stage_v1(template: Template) -> None:
    [api_id] = resources_of_type(template, "AWS::Serverless::Api")
    api = _properties(template, api_id)
    assert api["StageName"] == "v1"
    for event in functions(template)["ApiFunction"]["Events"].values():
        # REST (v1) events go with powertools' APIGatewayRestResolver, which the handler uses
        assert event["Type"] == "Api"
        assert ref_target(event["Properties"]["RestApiId"]) == api_id
        assert not str(event["Properties"]["Path"]).endswith("/")


def test_api_gateways_own_errors_are_problems_browsers_can_read(template: Template) -> None:
    # Given the answers API Gateway gives without calling the function
    responses = _properties(template, "Api")["GatewayResponses"]
    # Then every refused signature (none, wrong, expired, not allowed) is a 403 problem, never a 5xx
    for name in ("MISSING_AUTHENTICATION_TOKEN", "INVALID_SIGNATURE", "EXPIRED_TOKEN", "ACCESS_DENIED"):
        assert responses[name]["StatusCode"] == "403", name
        body = responses[name]["ResponseTemplates"]["application/json"]
        assert '"status": 403' in body, name
        assert body.startswith('{"type": "urn:pixelmill:problem:'), name
    # And every one is problem+json with the CORS header of the allowed origin
    assert set(responses) == {
        "MISSING_AUTHENTICATION_TOKEN",
        "INVALID_SIGNATURE",
        "EXPIRED_TOKEN",
        "ACCESS_DENIED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    }
    for name, response in responses.items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Content-Type"] == "'application/problem+json'", name
        assert headers["Access-Control-Allow-Origin"] == {"Fn::Sub": "'${AllowedOrigin}'"}, name
        assert '"type": "urn:pixelmill:problem:' in response["ResponseTemplates"]["application/json"], name


DOCS_ROUTES = {("get", "/api/docs"), ("get", "/api/openapi.json")}


@pytest.mark.slow
def test_every_route_but_the_docs_is_iam_authorized(translated: dict[str, Any]) -> None:
    # Given the API as API Gateway gets it (the OpenAPI body SAM makes of the routes)
    api = translated["Resources"]["Api"]["Properties"]["Body"]
    schemes = api["components"]["securitySchemes"]
    routes = {
        (method, path): operation
        for path, operations in api["paths"].items()
        for method, operation in operations.items()
        if method != "options"  # CORS preflights: browsers cannot sign them
    }
    assert len(routes) == 10
    # Then every route needs a SigV4 signature (AWS_IAM), but the docs, which need none
    assert schemes["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    for route, operation in routes.items():
        expected: list[dict[str, list[str]]] = [{"NONE": []}] if route in DOCS_ROUTES else [{"AWS_IAM": []}]
        assert operation["security"] == expected, route
        # And API Gateway invokes the function itself, not with the caller's credentials
        assert "credentials" not in operation["x-amazon-apigateway-integration"], route
    for path, operations in api["paths"].items():
        if "options" in operations:
            assert "security" not in operations["options"], path


def test_callers_get_a_policy_to_invoke_this_api_only(template: Template) -> None:
    policy = template["Resources"]["ApiInvokePolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/v1/*/api/*"
    }


def test_the_quota_is_a_parameter_wired_to_the_code(template: Template) -> None:
    assert _default(template, "MaxUnfinishedTasksPerCaller") == 100
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert ref_target(variables["PIXELMILL_MAX_UNFINISHED_TASKS"]) == "MaxUnfinishedTasksPerCaller"


def test_outputs(template: Template) -> None:
    outputs = template["Outputs"]
    assert set(outputs) == {
        "ApiUrl",
        "ApiInvokePolicyArn",
        "ImagesBucketName",
        "TasksTableName",
        "TaskQueueUrl",
        "TaskDeadLetterQueueUrl",
        "IngestDeadLetterQueueUrl",
        # Operations: the alarms' topic, the dashboard, and what `pixelmill admin` redrives uploads to.
        "AlarmTopicArn",
        "DashboardUrl",
        "IngestFunctionName",
        # Signed image URLs: where they point, the distribution and the signing secret.
        "ImageUrlBase",
        "ImageDistributionId",
        "UrlSigningSecretArn",
    }
    assert outputs["ImageUrlBase"]["Value"] == {"Fn::Sub": "https://${ImageDistribution.DomainName}/img/"}
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1/api/"
    }
    assert ref_target(outputs["ApiInvokePolicyArn"]["Value"]) == "ApiInvokePolicy"
    assert ref_target(outputs["ImagesBucketName"]["Value"]) == "ImagesBucket"
    assert ref_target(outputs["TasksTableName"]["Value"]) == "TasksTable"
    assert ref_target(outputs["TaskQueueUrl"]["Value"]) == "TaskQueue"
    assert ref_target(outputs["TaskDeadLetterQueueUrl"]["Value"]) == "TaskDeadLetterQueue"
    assert ref_target(outputs["IngestDeadLetterQueueUrl"]["Value"]) == "IngestDeadLetterQueue"


def test_limit_parameters_and_their_defaults(template: Template) -> None:
    defaults = {
        "MaxUploadBytes": 52428800,
        "MaxSourcePixels": 100000000,
        "MaxOutputPixels": 50000000,
        "MaxAnimationFrames": 300,
        "TaskTimeoutSeconds": 50,
        "MaxReceiveCount": 3,
        "ResultRetentionDays": 7,
        "TaskTtlDays": 30,
        "MaxRasterPixels": 1000000000,
        "RasterMemoryMiB": 512,
    }
    assert {name: _default(template, name) for name in defaults} == defaults
    assert template["Parameters"]["AllowedInputFormats"]["Default"] == "JPEG,PNG,WEBP,GIF,TIFF,BMP,AVIF,HEIF,JPEG2000"


def test_the_sweeper_may_scan_the_index_of_unfinished_tasks_and_nothing_more(template: Template) -> None:
    # Given the sweeper's own statements
    policies = functions(template)["SweeperFunction"]["Policies"]
    statements = [statement for policy in policies for statement in policy.get("Statement", [])]
    # Then it scans only the sparse index the task store reads unfinished tasks from (expired messages)
    scans = [statement for statement in statements if "dynamodb:Scan" in str(statement["Action"])]
    assert [statement["Resource"] for statement in scans] == [{"Fn::Sub": "${TasksTable.Arn}/index/ByOwnerUnfinished"}]
    source = (Path(__file__).resolve().parents[2] / "layers/shared/pixelmill/dal/tasks.py").read_text()
    assert '"IndexName": "ByOwnerUnfinished"' in source


# ---------------------------------------------------------------- signed image URLs


def test_image_urls_are_served_by_cloudfront_through_origin_access_control(template: Template) -> None:
    resources = template["Resources"]
    render = resources["RenderFunction"]["Properties"]
    # The function URL takes only SigV4-signed calls: CloudFront's, through the OAC
    assert render["FunctionUrlConfig"] == {"AuthType": "AWS_IAM"}
    oac = resources["ImageOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "lambda",
        "always",
        "sigv4",
    )
    config = resources["ImageDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert getatt_target(origin["OriginAccessControlId"]) == ("ImageOriginAccessControl", "Id")
    # The host name of RenderFunction's URL (SAM names the AWS::Lambda::Url <function>Url)
    assert origin["DomainName"] == {
        "Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": ["RenderFunctionUrl", "FunctionUrl"]}]}]
    }
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == origin["Id"]
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert ref_target(behaviour["CachePolicyId"]) == "ImageCachePolicy"
    (association,) = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert getatt_target(association["FunctionARN"]) == ("AcceptNormalizer", "FunctionARN")
    # Only this distribution may invoke the URL
    permissions = [
        res["Properties"]
        for res in resources.values()
        if res["Type"] == "AWS::Lambda::Permission"
        and ref_target(res["Properties"]["FunctionName"]) == "RenderFunction"
    ]
    assert {p["Action"] for p in permissions} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(p["Principal"] == "cloudfront.amazonaws.com" for p in permissions)
    assert all("distribution/${ImageDistribution}" in resource_text(p["SourceArn"]) for p in permissions)


def test_the_cache_key_is_the_path_and_the_normalised_accept(template: Template) -> None:
    resources = template["Resources"]
    parameters = resources["ImageCachePolicy"]["Properties"]["CachePolicyConfig"][
        "ParametersInCacheKeyAndForwardedToOrigin"
    ]
    assert parameters["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Accept"]}
    assert parameters["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert parameters["CookiesConfig"] == {"CookieBehavior": "none"}
    function = resources["AcceptNormalizer"]["Properties"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["AutoPublish"] is True
    for media_type in ("image/avif", "image/webp", "image/jpeg", "format=auto"):
        assert media_type in function["FunctionCode"]


def test_the_signing_secret_is_generated_and_read_only_by_the_signer_and_the_renderer(template: Template) -> None:
    resources = template["Resources"]
    generated = resources["UrlSigningSecret"]["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32
    readers = set()
    for logical_id, properties in functions(template).items():
        for statement in inline_statements(properties):
            if "secretsmanager:GetSecretValue" in as_list(statement["Action"]):
                assert ref_target(statement["Resource"]) == "UrlSigningSecret"
                readers.add(logical_id)
        if "PIXELMILL_SIGNING_SECRET_ID" in environment(properties):
            assert ref_target(environment(properties)["PIXELMILL_SIGNING_SECRET_ID"]) == "UrlSigningSecret"
    assert readers == {"ApiFunction", "RenderFunction"}


def test_rendered_images_expire_and_the_renderer_writes_only_there(template: Template) -> None:
    rules = template["Resources"]["ImagesBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [rule for rule in rules if rule.get("Prefix") == "cache/"]
    assert ref_target(rule["ExpirationInDays"]) == "ImageCacheRetentionDays"
    render = functions(template)["RenderFunction"]
    writes = [s for s in inline_statements(render) if "s3:PutObject" in as_list(s["Action"])]
    assert [resource_text(s["Resource"]) for s in writes] == ["${ImagesBucket.Arn}/cache/*"]
    assert ref_target(environment(render)["PIXELMILL_IMAGE_CACHE_MAX_AGE_SECONDS"]) == "ImageCacheMaxAgeSeconds"


@pytest.mark.slow
def test_sam_makes_the_render_function_url_iam_only(translated: dict[str, Any]) -> None:
    # The AWS::Lambda::Url SAM makes of FunctionUrlConfig: the distribution's origin refers to it by name
    url = translated["Resources"]["RenderFunctionUrl"]
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    assert url["Properties"]["TargetFunctionArn"] == {"Ref": "RenderFunction"}
