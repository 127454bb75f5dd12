"""The data layer: the only code that talks to AWS (boto3).

It implements the interfaces of ``pixelmill.stores``, which is all logic sees;
every SDK error leaves it as ``StoreUnavailable``.

``get_stores()`` builds the stores once per process from the settings; boto3
clients are created lazily there, after the environment is set, so moto and
the local stack (``AWS_ENDPOINT_URL``) need no patching.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import boto3
from botocore.config import Config

from pixelmill.dal.images import S3ImageStore
from pixelmill.dal.queue import SqsDeadLetterQueue, SqsTaskQueue
from pixelmill.dal.secrets import SigningKeys
from pixelmill.dal.tasks import DynamoTaskStore
from pixelmill.settings import Settings, get_settings
from pixelmill.stores import Stores

__all__ = [
    "DynamoTaskStore",
    "S3ImageStore",
    "SigningKeys",
    "SqsDeadLetterQueue",
    "SqsTaskQueue",
    "Stores",
    "get_stores",
]

# Adaptive retries absorb throttling before an error ever reaches the logic.
_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=30)


def build_stores(settings: Settings) -> Stores:
    """Stores for ``settings``, with fresh boto3 clients."""
    s3 = boto3.client("s3", config=_CLIENT_CONFIG.merge(Config(signature_version="s3v4")))
    sqs = boto3.client("sqs", config=_CLIENT_CONFIG)
    return Stores(
        tasks=DynamoTaskStore(
            boto3.client("dynamodb", config=_CLIENT_CONFIG),
            settings.tasks_table,
            timedelta(days=settings.task_ttl_days),
        ),
        images=S3ImageStore(s3, settings.images_bucket),
        queue=SqsTaskQueue(sqs, settings.task_queue_url),
        dead_letters=SqsDeadLetterQueue(sqs, settings.dead_letter_queue_url),
        signing_keys=SigningKeys(boto3.client("secretsmanager", config=_CLIENT_CONFIG), settings.signing_secret_id),
    )


@lru_cache(maxsize=1)
def get_stores() -> Stores:
    """The stores of this process (built once, reused across invocations)."""
    return build_stores(get_settings())
