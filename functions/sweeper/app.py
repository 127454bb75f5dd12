"""SweeperFunction: on a schedule, fail the tasks whose messages reached the dead-letter queue
or expired unreceived."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pixelmill.dal import get_stores
from pixelmill.logic.sweeping import fail_dead_lettered_tasks, fail_expired_tasks
from pixelmill.observability import logger, publish_metrics, tracer, unbind_task
from pixelmill.settings import get_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@publish_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    unbind_task()
    failed = fail_dead_lettered_tasks(get_stores(), get_settings())
    expired = fail_expired_tasks(get_stores())
    logger.info("sweep done", extra={"failed": failed, "expired": expired})
    return {"failed": failed, "expired": expired}
