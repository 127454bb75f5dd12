"""How the local stack reads routes and schedules from the template."""

from __future__ import annotations

import pytest

from infra.local.gateway import Route
from infra.local.sources import rate_seconds


@pytest.mark.parametrize(
    ("route", "path", "parameters"),
    [
        ("/api/tasks", "/api/tasks", {}),
        ("/api/tasks", "/api/tasks/", {}),
        ("/api/tasks/{task_id}", "/api/tasks/01ABC/", {"task_id": "01ABC"}),
        ("/files/{rest+}", "/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
    ],
)
def test_a_path_template_matches_as_api_gateway_matches_it(route: str, path: str, parameters: dict[str, str]) -> None:
    found = Route(route, "GET", "Fn").pattern.match(path)

    assert found is not None
    assert found.groupdict() == parameters


@pytest.mark.parametrize(("route", "path"), [("/api/tasks/{task_id}", "/api/tasks/a/b"), ("/api/tasks", "/api/tasksx")])
def test_a_path_template_does_not_match_other_paths(route: str, path: str) -> None:
    assert Route(route, "GET", "Fn").pattern.match(path) is None


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(5 minutes)", 300), ("rate(1 minute)", 60), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


def test_cron_expressions_are_not_run_locally() -> None:
    with pytest.raises(ValueError, match="rate"):
        rate_seconds("cron(0 12 * * ? *)")
