"""`make invoke-*` gives `sam local` the environment the local stack gives each function."""

from __future__ import annotations

from infra.local.sam_env import sam_env_vars
from infra.template import Template
from tests.integration.conftest import Stack

ENDPOINT = "http://host.docker.internal:5005"


def test_sam_local_gets_each_function_the_local_stacks_environment(stack: Stack) -> None:
    # Given the environments of the resources provisioned from the template
    template = stack.resources.template
    functions = template.resources_of_type("AWS::Serverless::Function")

    # When the env-vars file for sam local is made
    env_vars = sam_env_vars(Template.load(), ENDPOINT)

    # Then every function has the provisioned names (queue URLs on the emulator's endpoint), and the endpoint
    assert set(env_vars) == set(functions)
    for function in functions:
        provisioned = stack.resources.environment(function)
        for name, value in provisioned.items():
            expected = value
            for queue in template.resources_of_type("AWS::SQS::Queue"):
                url = template.physical_ids[queue]
                if value == url:
                    expected = f"{ENDPOINT}/{url.split('/', 3)[3]}"
            assert env_vars[function][name] == expected, (function, name)
        assert env_vars[function]["AWS_ENDPOINT_URL"] == ENDPOINT
