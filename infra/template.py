"""template.yaml as data: the one source of truth for local resources and environments.

Only what the local stack and the tests need is resolved: ``Ref`` to parameters
(their defaults) and to resources (their local physical ids), ``Fn::GetAtt``
``Arn``/``QueueUrl``/``QueueName``, and ``Fn::Sub`` over those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_CLOUDFRONT = "AWS::CloudFront::"

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


class _TemplateLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation's short tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data (short tags expanded)."""
    with path.open() as stream:
        data = yaml.load(stream, Loader=_TemplateLoader)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a template")
    return data


@dataclass
class Template:
    """A parsed template with a resolver bound to local physical ids."""

    data: dict[str, Any]
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    pseudo: dict[str, str] = field(
        default_factory=lambda: {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "pixelmill",
        }
    )

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        """Read ``path`` (template.yaml by default)."""
        return cls(load_template(path))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Logical id → resource."""
        return dict(self.data.get("Resources", {}))

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The resources of one type, by logical id."""
        return {name: res for name, res in self.resources.items() if res.get("Type") == resource_type}

    def parameter(self, name: str) -> str:
        """A parameter's value: its override, else its default."""
        if name in self.parameter_overrides:
            return self.parameter_overrides[name]
        spec = self.data.get("Parameters", {}).get(name)
        if spec is None or "Default" not in spec:
            raise KeyError(f"parameter {name} has no value")
        return str(spec["Default"])

    def resolve(self, value: Any) -> Any:
        """``value`` with intrinsic functions replaced by local values."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _intrinsics(self) -> Mapping[str, Callable[[Any], Any]]:
        return {"Ref": self._ref, "Fn::GetAtt": self._get_att, "Fn::Sub": self._sub}

    def _ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.data.get("Parameters", {}):
            return self.parameter(name)
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise KeyError(f"Ref {name}: no local value")

    def _get_att(self, argument: list[str]) -> str:
        name, attribute = argument
        if (name, attribute) in self.attributes:
            return self.attributes[(name, attribute)]
        raise KeyError(f"GetAtt {name}.{attribute}: no local value")

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        resolved = {key: str(self.resolve(item)) for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved:
                return resolved[name]
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self._get_att(name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The environment a function gets: Globals merged with its own, resolved.

        A variable that names a CloudFront resource is left out: there is no local CloudFront,
        and the setting's default stands in (the image URL base: the local gateway's own host).
        """
        global_env = self.data.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own = self.resources[logical_id].get("Properties", {}).get("Environment", {}).get("Variables", {})
        cloudfront = [name for name, res in self.resources.items() if str(res.get("Type")).startswith(_CLOUDFRONT)]
        environment = {}
        for key, value in {**global_env, **own}.items():
            if any(name in json.dumps(value) for name in cloudfront):
                continue
            environment[key] = str(self.resolve(value))
        return environment
