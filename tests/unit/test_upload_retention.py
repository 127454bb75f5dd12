"""A task is only created on an upload S3 keeps longer than the task can stay unfinished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pixelmill.errors import InvalidRequest
from pixelmill.logic.tasks import UPLOAD_MARGIN, check_outlives_a_task
from pixelmill.models.task import TASK_LIFETIME
from pixelmill.settings import Settings
from pixelmill.stores import StoredImage

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(upload_retention_days=30)


def _stored(key: str, age: timedelta) -> StoredImage:
    return StoredImage(key=key, size=1, content_type="image/png", last_modified=NOW - age, metadata={})


@pytest.mark.parametrize("key", ["uploads/0197e45a-8fc5-7848-9c9f-56cc0ae0a087", "incoming/photo.jpg"])
def test_an_upload_that_outlives_a_task_takes_one(key: str) -> None:
    latest = timedelta(days=30) - TASK_LIFETIME - UPLOAD_MARGIN
    check_outlives_a_task(_stored(key, timedelta(0)), SETTINGS, NOW)
    check_outlives_a_task(_stored(key, latest), SETTINGS, NOW)


@pytest.mark.parametrize("key", ["uploads/0197e45a-8fc5-7848-9c9f-56cc0ae0a087", "incoming/photo.jpg"])
def test_an_upload_that_could_expire_under_a_task_is_refused_on_image_id(key: str) -> None:
    too_old = timedelta(days=30) - TASK_LIFETIME - UPLOAD_MARGIN + timedelta(seconds=1)
    with pytest.raises(InvalidRequest) as caught:
        check_outlives_a_task(_stored(key, too_old), SETTINGS, NOW)
    [error] = caught.value.errors
    assert error.field == "image_id"
    assert "expires on 2026-12-06" in error.message
    assert "upload it again" in error.message


def test_results_follow_their_own_retention() -> None:
    check_outlives_a_task(_stored("results/res-01JD0000000000000000000000", timedelta(days=29)), SETTINGS, NOW)
