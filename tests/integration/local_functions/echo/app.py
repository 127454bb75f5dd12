"""A function for testing the local stack itself: it records every event it gets, and
crashes, hangs or fails records when asked to."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    with open(os.environ["ECHO_LOG"], "a") as log:
        log.write(json.dumps(event) + "\n")
    if "httpMethod" in event:
        path = event["path"]
        if path.endswith("/crash"):
            os._exit(3)
        if path.endswith("/hang"):
            time.sleep(60)
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"X-Seen": ["one", "two"]},
            "body": json.dumps({"event": event, "remaining_ms": context.get_remaining_time_in_millis()}),
        }
    if "Records" in event and event["Records"] and event["Records"][0].get("eventSource") == "aws:sqs":
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "fail"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
    keys = [r.get("s3", {}).get("object", {}).get("key", "") for r in event.get("Records", [])]
    if any("fail" in key for key in keys):
        raise RuntimeError(f"asked to fail on {keys}")
    return {"ok": True}
