"""Upload triggers without AWS: the rule set, the upload's metadata, and the task id of an upload."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pixelmill.logic.ingest import upload_task_id
from pixelmill.models.ingest import DEFAULT_INGEST_RULES, IngestRule, UploadMetadata, matching_rule
from pixelmill.settings import Settings
from pixelmill.stores import StoredImage

RULES = (
    IngestRule(prefix="incoming/", function_type="grayscale"),
    IngestRule(prefix="incoming/photos/", function_type="thumbnail", function_args={"size": 512}),
    IngestRule(prefix="incoming/photos/small/", function_type="thumbnail", function_args={"size": 64}),
)


@pytest.mark.parametrize(
    ("key", "function_args"),
    [
        ("incoming/photos/small/a.jpg", {"size": 64}),
        ("incoming/photos/a.jpg", {"size": 512}),
        ("incoming/photos-not/a.jpg", {}),
        ("incoming/a.jpg", {}),
    ],
)
def test_the_longest_matching_prefix_wins(key: str, function_args: dict[str, int]) -> None:
    rule = matching_rule(key, RULES)

    assert rule is not None
    assert rule.function_args == function_args


def test_no_rule_matches_outside_the_prefixes() -> None:
    assert matching_rule("incoming/other/a.jpg", RULES[1:]) is None
    assert matching_rule("incoming/a.jpg", ()) is None


def test_the_default_rules_make_thumbnails_and_web_mercator() -> None:
    assert matching_rule("incoming/thumbnails/a.jpg", DEFAULT_INGEST_RULES) == IngestRule(
        prefix="incoming/thumbnails/", function_type="thumbnail", function_args={"size": 256}
    )
    rule = matching_rule("incoming/web-mercator/scene.tif", DEFAULT_INGEST_RULES)
    assert rule is not None
    assert (rule.function_type, rule.function_args) == ("change_projection", {"target_srs": "EPSG:3857"})
    assert Settings().ingest_rules == DEFAULT_INGEST_RULES


def test_rules_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [{"prefix": "incoming/small/", "function_type": "thumbnail", "function_args": {"size": 64}}]
    monkeypatch.setenv("PIXELMILL_INGEST_RULES", json.dumps(rules))

    assert Settings().ingest_rules == (IngestRule.model_validate(rules[0]),)


@pytest.mark.parametrize("value", ["", "[]", "  "])
def test_an_empty_rule_set_is_allowed(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PIXELMILL_INGEST_RULES", value)

    assert Settings().ingest_rules == ()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("not json", "ingest_rules"),
        ('[{"prefix": "uploads/x/", "function_type": "thumbnail"}]', "starts with incoming/"),
        ('[{"prefix": "incoming/a/"}]', "function_type"),
        ('[{"prefix": "incoming/a/", "function_type": "thumbnail", "function_args": [1]}]', "function_args"),
        ('[{"prefix": "incoming/a/", "function_type": "x", "colour": "red"}]', "colour"),
        (
            '[{"prefix": "incoming/a/", "function_type": "x"}, {"prefix": "incoming/a/", "function_type": "y"}]',
            "more than one rule for the prefix incoming/a/",
        ),
    ],
)
def test_a_malformed_rule_set_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, value: str, says: str) -> None:
    monkeypatch.setenv("PIXELMILL_INGEST_RULES", value)

    with pytest.raises(ValidationError, match=says):
        Settings()


def test_a_rule_may_name_a_function_this_deployment_lacks() -> None:
    # It fails the tasks it makes (saying why) instead of stopping the function from starting
    assert IngestRule(prefix="incoming/raster/", function_type="to_cog").function_type == "to_cog"


def test_upload_metadata_is_function_type_and_json_function_args() -> None:
    metadata = UploadMetadata.model_validate({"function-type": "resize", "function-args": '{"width": 8}', "other": "x"})

    assert (metadata.function_type, metadata.function_args) == ("resize", {"width": 8})
    assert UploadMetadata.model_validate({"function-type": "grayscale"}).function_args == {}


@pytest.mark.parametrize(
    "metadata",
    [
        {"function-args": "{}"},
        {"function-type": ""},
        {"function-type": "x" * 65},
        {"function-type": "resize", "function-args": "{"},
        {"function-type": "resize", "function-args": '"width"'},
    ],
)
def test_unreadable_upload_metadata_is_refused(metadata: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        UploadMetadata.model_validate(metadata)


STORED = StoredImage(
    key="incoming/a.jpg",
    size=10,
    content_type="image/jpeg",
    last_modified=datetime(2026, 11, 23, 10, 14, 44, tzinfo=UTC),
    metadata={"function-type": "grayscale"},
    etag="900150983cd24fb0d6963f7d28e17f72",
)


def test_an_upload_has_one_task_id_sorted_by_its_upload_time() -> None:
    task_id = upload_task_id(STORED)

    assert task_id == upload_task_id(replace(STORED))
    later = upload_task_id(replace(STORED, last_modified=datetime(2026, 11, 23, 10, 14, 45, tzinfo=UTC)))
    assert task_id < later


@pytest.mark.parametrize(
    "change",
    [
        {"key": "incoming/b.jpg"},
        {"etag": "00000000000000000000000000000000"},
        {"version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"},
        {"metadata": {"function-type": "thumbnail"}},
        {"last_modified": datetime(2026, 11, 23, 10, 14, 45, tzinfo=UTC)},
    ],
)
def test_another_stored_object_has_another_task_id(change: dict[str, object]) -> None:
    assert upload_task_id(replace(STORED, **change)) != upload_task_id(STORED)  # type: ignore[arg-type]
