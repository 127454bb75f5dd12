"""``python -m infra.local.sam_env``: the ``--env-vars`` file that points ``sam local`` at the local stack.

Under ``sam local invoke`` a ``!Ref`` to a bucket, table or queue resolves to
its logical id, not to a resource that exists anywhere. This writes, for every
function of the template, the environment the local stack gives it (the same
resolution as ``make dev``), with the emulator's endpoint as seen from inside
sam's container; run ``make dev`` alongside so the resources exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from infra.local.stack import LOCAL_CREDENTIALS
from infra.provision import bucket_name, local_name
from infra.template import Template

DOCKER_HOST_ENDPOINT = "http://host.docker.internal:5005"


def sam_env_vars(
    template: Template, endpoint: str, region: str = "us-east-1", prefix: str = "pixelmill"
) -> dict[str, Any]:
    """``{FunctionLogicalId: {NAME: value}}`` for ``sam local invoke --env-vars``."""
    template.pseudo["AWS::Region"] = region
    account = template.pseudo["AWS::AccountId"]
    base = endpoint.rstrip("/")
    # The physical ids provision() gives the local stack's resources.
    for name, resource in template.resources_of_type("AWS::S3::Bucket").items():
        template.physical_ids[name] = bucket_name(template, name, resource, prefix)
        template.attributes[(name, "Arn")] = f"arn:aws:s3:::{template.physical_ids[name]}"
    for name in template.resources_of_type("AWS::DynamoDB::Table"):
        template.physical_ids[name] = local_name(prefix, name)
        template.attributes[(name, "Arn")] = f"arn:aws:dynamodb:{region}:{account}:table/{local_name(prefix, name)}"
    for name in template.resources_of_type("AWS::SQS::Queue"):
        queue = local_name(prefix, name)
        template.physical_ids[name] = f"{base}/{account}/{queue}"
        template.attributes[(name, "QueueUrl")] = f"{base}/{account}/{queue}"
        template.attributes[(name, "QueueName")] = queue
        template.attributes[(name, "Arn")] = f"arn:aws:sqs:{region}:{account}:{queue}"
    for name in template.resources_of_type("AWS::SecretsManager::Secret"):
        template.physical_ids[name] = local_name(prefix, name)
    return {
        function: {
            **template.function_environment(function),
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": base,
        }
        for function in template.resources_of_type("AWS::Serverless::Function")
    }


def main(argv: list[str] | None = None) -> int:
    """Print the env-vars JSON."""
    parser = argparse.ArgumentParser(prog="python -m infra.local.sam_env", description=__doc__)
    parser.add_argument(
        "--endpoint",
        default=DOCKER_HOST_ENDPOINT,
        help=f"the emulator as the container sees it (default {DOCKER_HOST_ENDPOINT})",
    )
    args = parser.parse_args(argv)
    json.dump(sam_env_vars(Template.load(), args.endpoint), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
