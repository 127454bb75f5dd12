"""The `pixelmill` command's own logic: arguments, problem messages, file names."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pixelmill_cli.client import ApiError, guess_content_type
from pixelmill_cli.main import build_parser, parse_arg, result_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("width=800", ("width", 800)),
        ("upscale=true", ("upscale", True)),
        ("target_srs=EPSG:3857", ("target_srs", "EPSG:3857")),
        ("bands=[4, 3]", ("bands", [4, 3])),
        ("label=", ("label", "")),
        ("text=a=b", ("text", "a=b")),
    ],
)
def test_arguments_are_json_when_they_parse_and_text_otherwise(text: str, expected: tuple[str, object]) -> None:
    assert parse_arg(text) == expected


@pytest.mark.parametrize("text", ["width", "=800"])
def test_an_argument_without_a_name_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_arg(text)


def test_a_problem_reads_as_its_title_and_one_line_per_bad_field() -> None:
    problem = {
        "title": "Bad Request",
        "status": 400,
        "detail": "function_args.width: must be an integer",
        "errors": [{"field": "function_args.width", "message": "must be an integer"}],
    }

    assert ApiError(400, problem).describe() == "Bad Request (400)\n  - function_args.width: must be an integer"
    assert ApiError(404, {"title": "Not Found", "detail": "no task 01X"}).describe() == "Not Found (404): no task 01X"


def test_a_result_is_named_after_its_source_function_and_format() -> None:
    task = {
        "function_type": "convert",
        "result_url": "http://s3/results/res-01X?response-content-disposition=attachment%3B%20filename%3D%22res-01X.webp%22&X-Amz-Signature=abc",
    }

    assert result_name(task, Path("holiday photo.jpg")) == "holiday photo.convert.webp"


def test_the_upload_type_comes_from_the_file_name() -> None:
    assert guess_content_type(Path("a.JPG")) == "image/jpeg"
    assert guess_content_type(Path("scene.tif")) == "image/tiff"
    assert guess_content_type(Path("IMG_0001.HEIC")) == "image/heic"
    assert guess_content_type(Path("T33UUP_B04.j2k")) == "image/jp2"
    with pytest.raises(ValueError, match="--content-type"):
        guess_content_type(Path("notes.txt"))


def test_the_api_defaults_to_the_local_stack_and_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_parser().parse_args(["functions"]).api == "http://127.0.0.1:3000/api"
    monkeypatch.setenv("PIXELMILL_API", "https://example.test/v1/api")
    assert build_parser().parse_args(["functions"]).api == "https://example.test/v1/api"


def test_admin_takes_its_options_after_the_action_and_reads_times_as_utc() -> None:
    args = build_parser().parse_args(
        ["--profile", "ops", "admin", "rerun", "01KAB3Q0XS1W6E2M9V7ZK4H8TN", "--since", "2026-12-01T09:00", "--local"]
    )

    assert (args.command, args.action, args.profile, args.local, args.limit) == ("admin", "rerun", "ops", True, 100)
    assert args.task_ids == ["01KAB3Q0XS1W6E2M9V7ZK4H8TN"]
    assert args.since == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert build_parser().parse_args(["admin", "redrive", "uploads", "--dry-run"]).dry_run is True


@pytest.mark.parametrize("argv", [["admin", "redrive", "everything"], ["admin", "rerun", "--since", "yesterday"]])
def test_admin_refuses_unknown_queues_and_times(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
