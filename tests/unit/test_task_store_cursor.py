"""Listing cursors: what we issue round-trips; anything else is a 400 on `cursor`."""

from __future__ import annotations

import pytest

from pixelmill.dal.tasks import _decode_cursor, _encode_cursor
from pixelmill.errors import InvalidRequest


def test_cursor_round_trips() -> None:
    key = {"task_id": "01JD0000000000000000000000", "kind": "task"}

    assert _decode_cursor(_encode_cursor(key), "kind", "task") == key


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90LWpzb24",
        _encode_cursor({"kind": "task"}),
        _encode_cursor({"task_id": 5}),
        _encode_cursor({"task_id": "x", "other": "y"}),
        _encode_cursor({"task_id": "x", "status": "queued"}),  # another listing's cursor
        _encode_cursor({"task_id": "x", "kind": "other"}),
    ],
)
def test_foreign_cursors_are_refused_on_the_cursor_field(cursor: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        _decode_cursor(cursor, "kind", "task")

    assert [error.field for error in raised.value.errors] == ["cursor"]
