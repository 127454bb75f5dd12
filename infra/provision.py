"""Create the template's bucket, table and queues on an AWS-compatible endpoint.

Used by the tests on ``moto.mock_aws`` and by the local stack on moto's server:
what template.yaml declares is what gets created, with no second list here.
moto's CloudFormation cannot do this (it ignores AWS::Serverless::* and bucket
notifications), so the few resource types pixelmill uses are created directly.
"""

from __future__ import annotations

import json
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from infra.template import Template

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

_TABLE_KEYS = ("KeySchema", "AttributeDefinitions", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")
_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
)


@dataclass
class LocalResources:
    """What was created: the template with every resource's local id bound."""

    template: Template

    def environment(self, function_logical_id: str) -> dict[str, str]:
        """The environment ``function_logical_id`` gets, pointing at the local resources."""
        return self.template.function_environment(function_logical_id)


def local_name(prefix: str, logical_id: str) -> str:
    """The physical name a local resource gets: ``pixelmill-imagesbucket`` for ``ImagesBucket``."""
    return f"{prefix}-{logical_id.lower()}"


def bucket_name(template: Template, logical_id: str, resource: dict[str, Any], prefix: str = "pixelmill") -> str:
    """A bucket's local name: the one the template declares (functions may refer to it by that name),
    else ``local_name``."""
    declared = resource.get("Properties", {}).get("BucketName")
    return str(template.resolve(declared)) if declared else local_name(prefix, logical_id)


def provision(template: Template, prefix: str = "pixelmill") -> LocalResources:
    """Create every bucket, table and queue of ``template`` (idempotent) with boto3's default session."""
    s3: S3Client = boto3.client("s3")
    dynamodb: DynamoDBClient = boto3.client("dynamodb")
    sqs: SQSClient = boto3.client("sqs")
    region = s3.meta.region_name
    template.pseudo["AWS::Region"] = region
    account = template.pseudo["AWS::AccountId"]

    for name, resource in template.resources_of_type("AWS::S3::Bucket").items():
        bucket = bucket_name(template, name, resource, prefix)
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            if region == "us-east-1":  # the one region that refuses a LocationConstraint
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
        template.physical_ids[name] = bucket
        template.attributes[(name, "Arn")] = f"arn:aws:s3:::{bucket}"

    for name, resource in template.resources_of_type("AWS::DynamoDB::Table").items():
        table = local_name(prefix, name)
        properties = template.resolve(resource.get("Properties", {}))
        if table not in dynamodb.list_tables()["TableNames"]:
            spec: dict[str, Any] = {key: properties[key] for key in _TABLE_KEYS if key in properties}
            dynamodb.create_table(TableName=table, **spec)
            ttl = properties.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=table,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
        template.physical_ids[name] = table
        template.attributes[(name, "Arn")] = f"arn:aws:dynamodb:{region}:{account}:table/{table}"

    # Queues without a redrive policy first: a redrive policy names its DLQ's ARN.
    queues = template.resources_of_type("AWS::SQS::Queue")
    for name, resource in sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1].get("Properties", {})):
        queue_name = local_name(prefix, name)
        properties = template.resolve(resource.get("Properties", {}))
        attributes: dict[Any, str] = {key: str(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        template.physical_ids[name] = url
        template.attributes[(name, "QueueUrl")] = url
        template.attributes[(name, "QueueName")] = queue_name
        template.attributes[(name, "Arn")] = f"arn:aws:sqs:{region}:{account}:{queue_name}"

    # A secret's Ref is its ARN on AWS; its name works wherever a secret id is asked for.
    secretsmanager = boto3.client("secretsmanager")
    for name in template.resources_of_type("AWS::SecretsManager::Secret"):
        secret = local_name(prefix, name)
        try:
            secretsmanager.describe_secret(SecretId=secret)
        except secretsmanager.exceptions.ResourceNotFoundException:
            # What GenerateSecretString makes on AWS: random letters and digits.
            secretsmanager.create_secret(Name=secret, SecretString=secrets.token_urlsafe(48))
        template.physical_ids[name] = secret

    return LocalResources(template)


# A stack needs a resource; this one creates nothing (moto warns that it does not model it).
_NO_OP_RESOURCE = {"Type": "AWS::CloudFormation::WaitConditionHandle"}


def publish_outputs(
    template: Template, stack_name: str = "pixelmill", extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Make the template's Outputs that have local values (bucket, table, queue URLs) readable
    as a CloudFormation stack's outputs on the emulator, as ``sam deploy`` makes them on AWS:
    tools that find a stack's resources by its name (``pixelmill admin``) then work on both.
    Outputs of resources the emulator lacks (the API, alarms, functions) are left out;
    ``extra`` outputs are the local stack's own. Idempotent."""
    outputs: dict[str, str] = {}
    for name, output in template.data.get("Outputs", {}).items():
        try:
            outputs[name] = str(template.resolve(output["Value"]))
        except KeyError:
            continue
    outputs.update(extra or {})
    cloudformation = boto3.client("cloudformation")
    body = {
        "Resources": {"LocalStack": _NO_OP_RESOURCE},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    existing = {stack["StackName"] for stack in cloudformation.list_stacks().get("StackSummaries", [])}
    if stack_name not in existing:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
            cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps(body))
    return outputs
