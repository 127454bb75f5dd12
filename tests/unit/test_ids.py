"""Task and image ids: format, order, and confinement to our S3 prefixes."""

from __future__ import annotations

import re
import uuid

import pytest

from pixelmill.models.ids import (
    TASK_ID_PATTERN,
    UPLOAD_ID_PATTERN,
    image_key,
    new_image_id,
    new_task_id,
    result_image_id,
)


def test_task_ids_are_ulids_that_sort_by_creation_time() -> None:
    ids = [new_task_id(now_ms=ms) for ms in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000)]

    assert all(re.fullmatch(TASK_ID_PATTERN, task_id) for task_id in ids)
    assert ids == sorted(ids)
    assert len({new_task_id(now_ms=1) for _ in range(100)}) == 100


def test_image_ids_are_uuid7_that_sort_by_creation_time() -> None:
    ids = [new_image_id(now_ms=ms) for ms in (1_700_000_000_000, 1_700_000_000_001)]

    assert all(uuid.UUID(image_id).version == 7 for image_id in ids)
    assert all(re.fullmatch(UPLOAD_ID_PATTERN, image_id) for image_id in ids)
    assert ids == sorted(ids)


def test_image_keys_stay_under_our_prefixes() -> None:
    upload = new_image_id()
    result = result_image_id(new_task_id())

    assert image_key(upload) == f"uploads/{upload}"
    assert image_key(result) == f"results/{result}"


@pytest.mark.parametrize(
    "image_id",
    ["../etc/passwd", "uploads/x", "", "res-../../x", "0197E45A-8FC5-7848-9C9F-56CC0AE0A087", str(uuid.uuid4())],
)
def test_anything_else_is_refused(image_id: str) -> None:
    with pytest.raises(ValueError, match="not a pixelmill image id"):
        image_key(image_id)
