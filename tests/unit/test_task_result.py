"""Which JSON results the worker keeps on the task record (the rest are only at result_url)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pixelmill.logic.processing import MAX_TASK_RESULT_BYTES, _task_result
from pixelmill.transforms import Rendered, RenderedFile


def _rendered(document: dict[str, Any] | None) -> Rendered:
    return Rendered(b"{}", "application/json", "json", document=document)


def test_a_small_document_is_kept() -> None:
    document = {"width": 10, "bands": [{"statistics": {"mean": 0.5, "std": None}}]}
    assert _task_result(_rendered(document)) == document


@pytest.mark.parametrize(
    "document",
    [
        {"text": "x" * (MAX_TASK_RESULT_BYTES + 1)},  # over the record's share
        {"bands": [{"min": 1e-200}]},  # DynamoDB numbers stop at 1e-130
        {"max": 3e200},  # ... and below 1e126
    ],
)
def test_a_document_the_record_cannot_hold_is_left_to_result_url(document: dict[str, Any]) -> None:
    assert _task_result(_rendered(document)) is None


def test_images_have_no_document() -> None:
    assert _task_result(Rendered(b"\xff\xd8", "image/jpeg", "jpg")) is None
    assert _task_result(RenderedFile(Path("result.tif"), "image/tiff", "tif")) is None
