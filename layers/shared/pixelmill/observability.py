"""The one logger, tracer and metrics of the service (AWS Lambda Powertools).

Service name, namespace and log level come from the POWERTOOLS_* variables set
in template.yaml; outside Lambda the tracer switches itself off.

While a task is handled (API, ingest, processor, sweeper), ``bind_task`` puts
its ``task_id``, ``function_type``, ``image_id`` and ``owner`` on every log
line (GDAL's and PROJ's too) and on every X-Ray subsegment ``traced`` opens.
Task metrics go out one EMF document per task (``task_metrics``), with a
``function_type`` dimension and a service-wide roll-up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

__all__ = [
    "EphemeralMetrics",
    "MetricUnit",
    "bind_task",
    "count_task",
    "current_task_keys",
    "logger",
    "metrics",
    "publish_metrics",
    "task_metrics",
    "traced",
    "tracer",
    "unbind_task",
]

SERVICE = "pixelmill"
NAMESPACE = "pixelmill"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

TASK_KEYS = ("task_id", "function_type", "image_id", "owner")
"""The log keys of the task being handled; task_id and function_type are X-Ray annotations too."""

# rasterio hands every GDAL and PROJ message to the "rasterio" loggers at its level (CE_Debug →
# DEBUG, CE_Warning → WARNING, CE_Failure → ERROR): they go out as our JSON lines, with the
# task's keys, instead of bare text on stderr. Python warnings (rasterio's NotGeoreferenced…) too.
for _name in ("rasterio", "py.warnings"):
    logging.getLogger(_name)  # registered now, so that the copy below finds them
logging.captureWarnings(True)
copy_config_to_registered_loggers(source_logger=logger, include={"rasterio", "py.warnings"})


class TaskLike(Protocol):
    """What ``bind_task`` reads of a task (the stored record)."""

    @property
    def task_id(self) -> str: ...

    @property
    def function_type(self) -> str: ...

    @property
    def image_id(self) -> str: ...

    @property
    def owner(self) -> str: ...


_current_task: ContextVar[dict[str, str] | None] = ContextVar("pixelmill_current_task", default=None)


def bind_task(task: TaskLike | None = None, **keys: str | None) -> None:
    """Put ``task``'s keys (and/or ``keys``, e.g. only the task_id of a message) on every
    log line and traced subsegment from now until ``unbind_task``."""
    values: dict[str, str | None] = dict(_current_task.get() or {})
    if task is not None:
        values.update(
            task_id=task.task_id,
            function_type=task.function_type,
            image_id=task.image_id,
            owner=task.owner,
        )
    values.update(keys)
    bound = {key: value for key, value in values.items() if value}
    _current_task.set(bound)
    logger.append_keys(**bound)


def unbind_task() -> None:
    """The next log lines belong to no task (call before each record of a batch)."""
    _current_task.set(None)
    logger.remove_keys(TASK_KEYS)


def current_task_keys() -> dict[str, str]:
    """The keys of the task being handled (empty when none is)."""
    return dict(_current_task.get() or {})


@contextmanager
def traced(name: str) -> Iterator[None]:
    """An X-Ray subsegment ``name`` annotated with the bound task's task_id and function_type
    (searchable: ``annotation.task_id = "01K…"``). A no-op where tracing is off."""
    keys = current_task_keys()
    with tracer.provider.in_subsegment(f"## {name}") as subsegment:
        for key in ("task_id", "function_type"):
            if key in keys:
                subsegment.put_annotation(key, keys[key])
        yield


@contextmanager
def task_metrics(function_type: str) -> Iterator[EphemeralMetrics]:
    """Metrics of one task, published as one EMF document when the block ends.

    Dimensions: (function_type, service) for per-function graphs and (service) for
    the totals that alarms read. Separate from ``metrics`` because one SQS batch
    mixes functions, and a document has one value per dimension.
    """
    task = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    task.add_dimension(name="function_type", value=function_type)
    task.add_dimensions(service=SERVICE)
    try:
        yield task
    finally:  # a task that raised (to be retried) has metrics too
        if task.metric_set:
            task.flush_metrics()


def count_task(name: str, function_type: str) -> None:
    """One task counted under metric ``name`` (TaskCreated, TaskCancelled, …)."""
    with task_metrics(function_type) as task:
        task.add_metric(name=name, unit=MetricUnit.Count, value=1)


HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])

_cold_start = True


def publish_metrics(handler: HandlerT) -> HandlerT:
    """Like ``metrics.log_metrics(capture_cold_start_metric=True)``, without Powertools'
    "No application metrics to publish" warning on invocations that count nothing
    (most requests: task metrics are published per task by ``task_metrics``)."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        global _cold_start
        if _cold_start:
            _cold_start = False
            metrics.provider.add_cold_start_metric(context)
        try:
            return handler(event, context)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return wrapper  # type: ignore[return-value]
