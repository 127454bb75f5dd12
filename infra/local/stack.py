"""The whole service on one machine, built from template.yaml.

moto in server mode plays AWS (S3, DynamoDB, SQS); the template's buckets,
tables and queues are created on it; every ``AWS::Serverless::Function`` runs
in local execution environments with the environment the template gives it;
its ``Api``, ``SQS``, ``S3`` and ``Schedule`` events are served by a local API
Gateway and local event sources. Nothing here lists pixelmill's resources or
functions by name: a resource or an event added to the template appears here
with no second edit.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.local import snapshot
from infra.local.gateway import ApiGateway, RestApi
from infra.local.iam import User, create_user, find_access_key, put_user, users
from infra.local.runtime import ROOT, FunctionPool, FunctionSpec
from infra.local.s3_front import S3Front
from infra.local.sources import (
    DEFAULT_ASYNC_RETRIES,
    EventSource,
    S3EventSource,
    ScheduleEventSource,
    SqsEventSource,
    rate_seconds,
)
from infra.provision import LocalResources, provision, publish_outputs
from infra.template import Template

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# SAM's defaults for a function that sets neither (nor Globals).
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
# The IAM user `make dev` creates for its banner: any other user with an access key can call too.
DEV_USER = "pixelmill-dev"
# What a function's process inherits from ours (Lambda starts from a clean environment).
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")

Log = Callable[..., None]
# The function event types the local stack serves; another type in the template is logged at start.
EMULATED_EVENT_TYPES = ("Api", "SQS", "S3", "Schedule")


@dataclass
class StackOptions:
    """How to run the local stack (the command line of ``python -m infra.local``)."""

    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 5005
    region: str = "us-east-1"
    data_dir: Path | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    api_concurrency: int = 2


@dataclass(frozen=True)
class S3Subscription:
    """One ``Type: S3`` event: the bucket notifies a local queue, which feeds the function."""

    function: str
    event: str
    bucket: str
    events: list[str]
    rules: list[dict[str, str]]
    queue_name: str


def _secret_of(access_key_id: str) -> str | None:
    """The secret of an access key: an emulator user's, or the functions' own local one."""
    if access_key_id == LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        return LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    principal = find_access_key(access_key_id)
    return principal.secret_access_key if principal else None


def _principal_of(access_key_id: str) -> str:
    """The principal id S3 reports for an access key: an emulator user's unique id, else the key
    itself (the functions' own local credentials, which no tenant has)."""
    principal = find_access_key(access_key_id)
    return f"AWS:{principal.user_id if principal else access_key_id}"


class PortInUse(OSError):
    """A port the stack needs is taken (by an earlier stack, or another program)."""


def _check_free(host: str, port: int) -> None:
    """Raise ``PortInUse`` unless ``host:port`` can be listened on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUse(
                f"port {port} on {host} is in use ({error.strerror}): stop what holds it or pick another port"
            ) from error


# Functions reached through a function URL (on AWS behind CloudFront: the distribution sends
# every path to RenderFunction), served here on the gateway's port under these paths.
FUNCTION_URL_PATHS = {"RenderFunction": "/img/"}


class LocalStack:
    """Start, run and stop the local stack."""

    def __init__(self, options: StackOptions, log: Log, template: Template | None = None) -> None:
        self.options = options
        self.log = log
        self.template = template or Template.load()
        self.template.parameter_overrides.update(options.parameter_overrides)
        self.functions: dict[str, FunctionPool] = {}
        self.gateway: ApiGateway | None = None
        self.sources: list[EventSource] = []
        self.resources: LocalResources | None = None
        self._emulator: Any = None
        self._emulator_thread: threading.Thread | None = None
        self.s3_front: S3Front | None = None
        self.dev_user: User | None = None
        self._provision_lock = threading.Lock()
        self._subscriptions: list[S3Subscription] = []

    @property
    def aws_endpoint(self) -> str:
        """Where the emulator listens, as clients on this machine reach it."""
        host = "127.0.0.1" if self.options.host in ("0.0.0.0", "") else self.options.host
        return f"http://{host}:{self.options.aws_port}"

    @property
    def api_url(self) -> str:
        """The local API Gateway's base URL."""
        host = "127.0.0.1" if self.options.host in ("0.0.0.0", "") else self.options.host
        return f"http://{host}:{self.options.api_port}"

    def start(self) -> None:
        """Start the emulator, create the resources, restore kept data, start functions and sources."""
        # Only the local stack needs moto's server.
        from moto.moto_server.werkzeug_app import create_backend_app
        from werkzeug.serving import make_server

        from infra.local.emulator import Dispatcher, KeepAliveHandler

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's access log is noise here
        for port in (self.options.aws_port, self.options.api_port):
            _check_free(self.options.host, port)

        os.environ.update(
            {
                **LOCAL_CREDENTIALS,
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "AWS_REGION": self.options.region,
                "AWS_DEFAULT_REGION": self.options.region,
            }
        )
        self.s3_front = S3Front(Dispatcher(create_backend_app), secret_of=_secret_of, principal_of=_principal_of)
        self._emulator = make_server(
            self.options.host,
            self.options.aws_port,
            self.s3_front,
            threaded=True,
            request_handler=KeepAliveHandler,
        )
        self._emulator_thread = threading.Thread(target=self._emulator.serve_forever, name="emulator", daemon=True)
        self._emulator_thread.start()
        self.resources = provision(self.template)
        self._subscriptions = self._s3_subscriptions()
        # In the background: the emulator's CloudFormation takes seconds to load, and only
        # `pixelmill admin` reads the outputs.
        threading.Thread(target=self._publish_outputs, name="publish-outputs", daemon=True).start()
        if self.options.data_dir is not None:
            counts = snapshot.restore(
                self.options.data_dir, queues=self._queue_urls(), account=self.template.pseudo["AWS::AccountId"]
            )
            self.log("data restored", source="local-stack", directory=str(self.options.data_dir), **counts)
        create_user(boto3.client("iam"), DEV_USER)
        self.dev_user = next(user for user in users(self.template.pseudo["AWS::AccountId"]) if user.name == DEV_USER)
        # Notifications after the restore: restored objects were already handled once.
        self._configure_notifications()

        for logical_id, resource in self.template.resources_of_type("AWS::Serverless::Function").items():
            spec = self._function_spec(logical_id, resource)
            has_api = any(e.get("Type") == "Api" for e in resource.get("Properties", {}).get("Events", {}).values())
            self.functions[logical_id] = FunctionPool(
                spec,
                size=self.options.api_concurrency if has_api else 1,
                log=self._function_log,
                base_environment=self._base_environment(),
            )
        warming = [threading.Thread(target=pool.warm) for pool in self.functions.values()]
        for thread in warming:
            thread.start()
        for thread in warming:
            thread.join()

        for api_id in self.template.resources_of_type("AWS::Serverless::Api"):
            stage = str(self.template.resolve(self.template.resources[api_id]["Properties"].get("StageName", "Prod")))
            self.gateway = ApiGateway(
                RestApi(self.template, api_id, stage),
                self.functions,
                self.options.host,
                self.options.api_port,
                access_log=lambda entry: self.log("request", source="api-gateway", **entry),
                region=self.options.region,
                url_paths={prefix: name for name, prefix in FUNCTION_URL_PATHS.items() if name in self.functions},
            )
            break  # one API per stack is what pixelmill declares; a second would need a second port
        if self.gateway is not None:
            self.gateway.start()
        self.sources = self._event_sources()
        for source in self.sources:
            source.start()

    def stop(self) -> None:
        """Stop the sources (after their current invocation), the gateway, keep the data, stop the rest."""
        for source in self.sources:
            source.stop()
        if self.gateway is not None:
            self.gateway.stop()
        if self.options.data_dir is not None and self.resources is not None:
            counts = snapshot.save(
                self.options.data_dir,
                buckets=self._physical("AWS::S3::Bucket"),
                tables=self._physical("AWS::DynamoDB::Table"),
                queues=self._queue_urls(),
                account=self.template.pseudo["AWS::AccountId"],
            )
            self.log("data kept", source="local-stack", directory=str(self.options.data_dir), **counts)
        for pool in self.functions.values():
            pool.close()
        if self._emulator is not None:
            self._emulator.shutdown()
            self._emulator.server_close()

    def reprovision(self) -> None:
        """Create again whatever the emulator lost (it was reset or restarted)."""
        with self._provision_lock:
            if self.dev_user is not None:  # the banner's keys keep working, for the same tenant
                put_user(boto3.client("iam"), self.template.pseudo["AWS::AccountId"], self.dev_user)
            self.resources = provision(self.template)
            self._publish_outputs()
            self._configure_notifications()

    def _publish_outputs(self) -> None:
        """The template's outputs as the emulator's CloudFormation stack ``pixelmill`` (for ``pixelmill admin``)."""
        # Where S3 events for a function go here (on AWS S3 invokes it): `pixelmill admin redrive
        # uploads` hands dead-lettered events back to IngestFunction through it.
        event_queues = {
            f"{subscription.function}EventQueueUrl": self._notification_queue(subscription)
            for subscription in self._subscriptions
        }
        try:
            publish_outputs(self.template, extra=event_queues)
        except (BotoCoreError, ClientError) as error:
            self.log("stack outputs not published", source="local-stack", error=str(error), level="WARNING")

    # --- what the template declares ---------------------------------------------------

    def _function_spec(self, logical_id: str, resource: dict[str, Any]) -> FunctionSpec:
        properties = resource.get("Properties", {})
        globals_ = self.template.data.get("Globals", {}).get("Function", {})

        def setting(name: str, default: Any) -> Any:
            return self.template.resolve(properties.get(name, globals_.get(name, default)))

        layers = [*globals_.get("Layers", []), *properties.get("Layers", [])]
        layer_dirs = []
        for layer in layers:
            if isinstance(layer, dict) and "Ref" in layer:
                content = self.template.resources[layer["Ref"]]["Properties"]["ContentUri"]
                layer_dirs.append(ROOT / str(content))
        assert self.resources is not None
        return FunctionSpec(
            logical_id=logical_id,
            code_dir=ROOT / str(properties["CodeUri"]),
            handler=str(properties["Handler"]),
            timeout_seconds=float(setting("Timeout", DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(setting("MemorySize", DEFAULT_MEMORY_MB)),
            environment=self.resources.environment(logical_id),
            layer_dirs=tuple(layer_dirs),
        )

    def _base_environment(self) -> dict[str, str]:
        inherited = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        return {
            **inherited,
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_REGION": self.options.region,
            "AWS_DEFAULT_REGION": self.options.region,
        }

    def _events(self, event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, event name, resolved properties) of every event of ``event_type``."""
        found = []
        for function, resource in self.template.resources_of_type("AWS::Serverless::Function").items():
            for name, event in resource.get("Properties", {}).get("Events", {}).items():
                if event.get("Type") == event_type:
                    found.append((function, name, event.get("Properties", {})))
        return found

    def _sqs_triggers(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, name, properties) of every SQS trigger: SAM ``Type: SQS`` events and
        ``AWS::Lambda::EventSourceMapping`` resources (their ``EventSourceArn`` as ``Queue``)."""
        found = self._events("SQS")
        for name, mapping in self.template.resources_of_type("AWS::Lambda::EventSourceMapping").items():
            properties = mapping.get("Properties", {})
            function = properties.get("FunctionName", {})
            if not (isinstance(function, dict) and function.get("Ref") in self.functions):
                raise ValueError(f"{name}: FunctionName must be a Ref to a function of the template")
            found.append((function["Ref"], name, {**properties, "Queue": properties.get("EventSourceArn")}))
        return found

    def _s3_subscriptions(self) -> list[S3Subscription]:
        subscriptions = []
        for function, name, properties in self._events("S3"):
            bucket_ref = properties["Bucket"]
            if not (isinstance(bucket_ref, dict) and "Ref" in bucket_ref):
                raise ValueError(f"{function}.{name}: an S3 event's Bucket must be a Ref to a bucket of the template")
            events = properties["Events"]
            rules = properties.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            subscriptions.append(
                S3Subscription(
                    function=function,
                    event=name,
                    bucket=str(self.template.resolve(bucket_ref)),
                    events=[events] if isinstance(events, str) else list(events),
                    rules=[{"Name": str(r["Name"]), "Value": str(self.template.resolve(r["Value"]))} for r in rules],
                    queue_name=f"pixelmill-local-{function.lower()}-{name.lower()}",
                )
            )
        return subscriptions

    def _configure_notifications(self) -> None:
        """Each bucket notifies the local queues of its S3 subscriptions (all of them in one configuration)."""
        s3: S3Client = boto3.client("s3")
        sqs: SQSClient = boto3.client("sqs")
        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for subscription in self._subscriptions:
            url = self._notification_queue(subscription)
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            configuration: dict[str, Any] = {"Id": subscription.event, "QueueArn": arn, "Events": subscription.events}
            if subscription.rules:
                configuration["Filter"] = {"Key": {"FilterRules": subscription.rules}}
            by_bucket.setdefault(subscription.bucket, []).append(configuration)
        for bucket, configurations in by_bucket.items():
            s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={"QueueConfigurations": configurations},  # type: ignore[typeddict-item]
            )

    def _event_sources(self) -> list[EventSource]:
        sources: list[EventSource] = []
        for function, resource in self.template.resources_of_type("AWS::Serverless::Function").items():
            for name, event in resource.get("Properties", {}).get("Events", {}).items():
                if event.get("Type") not in EMULATED_EVENT_TYPES:
                    self.log(
                        "event not emulated locally",
                        source="local-stack",
                        function=function,
                        event=name,
                        type=event.get("Type"),
                        level="WARNING",
                    )
        for function, _name, properties in self._sqs_triggers():
            queue = properties["Queue"]
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
                raise ValueError(f"{function}: an SQS trigger's queue must be !GetAtt <queue>.Arn of the template")
            queue_url = self.template.physical_ids[queue["Fn::GetAtt"][0]]
            batch_size = int(self.template.resolve(properties.get("BatchSize", 10)))
            sources.append(
                SqsEventSource(
                    self.functions[function],
                    self.log,
                    queue_url=queue_url,
                    batch_size=batch_size,
                    reconnect=self.reprovision,
                )
            )
        for subscription in self._subscriptions:
            url = self._notification_queue(subscription)
            retries, dead_letter_url = self._async_failure_handling(subscription.function)
            sources.append(
                S3EventSource(
                    self.functions[subscription.function],
                    self.log,
                    queue_url=url,
                    retries=retries,
                    dead_letter_url=dead_letter_url,
                    reconnect=self.reprovision,
                    writer_of=self.s3_front.writer_of if self.s3_front is not None else None,
                )
            )
        for function, name, properties in self._events("Schedule"):
            expression = str(self.template.resolve(properties["Schedule"]))
            try:
                interval = rate_seconds(expression)
            except ValueError as error:
                self.log(
                    "schedule not run locally",
                    source="local-stack",
                    function=function,
                    error=str(error),
                    level="WARNING",
                )
                continue
            sources.append(
                ScheduleEventSource(
                    self.functions[function],
                    self.log,
                    rule=f"{function}{name}",
                    interval=interval,
                    region=self.options.region,
                )
            )
        return sources

    def _async_failure_handling(self, function: str) -> tuple[int, str | None]:
        """How many times an asynchronous invocation is retried, and the queue a failed event goes to
        (the function's ``DeadLetterQueue``, or its ``EventInvokeConfig`` on-failure destination)."""
        properties = self.template.resources[function].get("Properties", {})
        config = properties.get("EventInvokeConfig", {})
        retries = int(self.template.resolve(config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)))
        target = properties.get("DeadLetterQueue", {}).get("TargetArn")
        on_failure = config.get("DestinationConfig", {}).get("OnFailure", {})
        if target is None and on_failure.get("Type") == "SQS":
            target = on_failure.get("Destination")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            return retries, self.template.physical_ids.get(target["Fn::GetAtt"][0])
        return retries, None

    def _physical(self, resource_type: str) -> list[str]:
        return [self.template.physical_ids[name] for name in self.template.resources_of_type(resource_type)]

    def _queue_urls(self) -> dict[str, str]:
        """Every queue the stack uses, by name: the template's and the local notification queues."""
        urls = {self.template.attributes[(name, "QueueName")]: url for name, url in self._template_queues().items()}
        for subscription in self._subscriptions:
            urls[subscription.queue_name] = self._notification_queue(subscription)
        return urls

    def _notification_queue(self, subscription: S3Subscription) -> str:
        """The URL of ``subscription``'s local queue, created if need be (a restore fills it
        before the notifications are switched on; a reset emulator has lost it)."""
        sqs: SQSClient = boto3.client("sqs")
        return sqs.create_queue(QueueName=subscription.queue_name)["QueueUrl"]

    def _template_queues(self) -> dict[str, str]:
        return {name: self.template.physical_ids[name] for name in self.template.resources_of_type("AWS::SQS::Queue")}

    def _function_log(self, function: str, line: str) -> None:
        self.log(line, source=function, raw=True)

    def credentials(self) -> str:
        """The shell line that makes the CLI, curl and SDKs call the local API as the dev user."""
        assert self.dev_user is not None
        assert self.dev_user.keys
        key_id, secret = self.dev_user.keys[0]
        return (
            f"export AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret} "
            f"AWS_REGION={self.options.region} PIXELMILL_API={self.api_url}/api"
        )

    def describe(self) -> list[tuple[str, str]]:
        """What the banner shows: (label, value) rows."""
        rows = [
            ("API", f"{self.api_url}/api/"),
            ("API docs", f"{self.api_url}/api/docs"),
            *(
                (
                    "image URLs",
                    f"{self.api_url}{prefix}{{signature}}/{{steps}}/{{owner}}/{{image_id}}  "
                    f"({name}; sign with POST /api/urls/; no local CloudFront)",
                )
                for name, prefix in FUNCTION_URL_PATHS.items()
                if name in self.functions
            ),
            ("AWS emulator", f"{self.aws_endpoint}  (moto: S3, DynamoDB, SQS, IAM, Secrets Manager)"),
        ]
        if self.dev_user is not None:
            rows.append(("caller", f"IAM user {self.dev_user.name} (tenant {self.dev_user.user_id}); keys below"))
        for kind, label in (("AWS::S3::Bucket", "bucket"), ("AWS::DynamoDB::Table", "table")):
            for name in self._physical(kind):
                rows.append((label, name))
        for name, url in self._template_queues().items():
            rows.append(("queue", f"{url}  ({name})"))
        for function, resource in self.template.resources_of_type("AWS::Serverless::Function").items():
            triggers = []
            for event in resource.get("Properties", {}).get("Events", {}).values():
                props = event.get("Properties", {})
                if event["Type"] == "Api":
                    triggers.append(f"{props['Method'].upper()} {props['Path']}")
                elif event["Type"] == "S3":
                    rules = props.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                    where = " ".join(f"{rule['Name']} {rule['Value']}" for rule in rules)
                    triggers.append(f"S3 {props['Events']} {where}".rstrip())
                elif event["Type"] == "Schedule":
                    triggers.append(str(props["Schedule"]))
            for owner, _name, props in self._sqs_triggers():
                if owner == function:
                    triggers.append(f"SQS {props['Queue']['Fn::GetAtt'][0]} (batch {props.get('BatchSize', 10)})")
            routes = [trigger for trigger in triggers if " /" in trigger]
            others = [trigger for trigger in triggers if " /" not in trigger]
            if "FunctionUrlConfig" in resource.get("Properties", {}):
                others.append(f"function URL {FUNCTION_URL_PATHS.get(function, '/')}")
            summary = ", ".join(([f"{len(routes)} API routes"] if routes else []) + others)
            rows.append(("function", f"{function}: {summary}"))
        data = str(self.options.data_dir) if self.options.data_dir else "not kept (make dev KEEP_DATA=1 keeps it)"
        rows.append(("data", data))
        return rows
