"""The HTTP API through the real handler: shapes, status codes and problem details."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from pixelmill.settings import get_settings
from tests.imagegen import image_bytes
from tests.integration.conftest import BOB, ApiClient, Stack

UNKNOWN_TASK = "01JD0000000000000000000000"
UNKNOWN_IMAGE = "0197e45a-8fc5-7848-9c9f-56cc0ae0a087"


def _png() -> bytes:
    return image_bytes("PNG", 32, 24)


def test_upload_then_get_image_gives_metadata_and_a_working_download_url(stack: Stack) -> None:
    # Given an image uploaded through the presigned POST
    data = _png()
    image_id = stack.upload(data, "image/png")

    # When its metadata is asked for
    response = stack.api.get(f"/api/images/{image_id}/")

    # Then it describes the object and its URL downloads the same bytes
    assert response.status == 200
    image = response.json()
    assert image["image_id"] == image_id
    assert image["content_type"] == "image/png"
    assert image["size"] == len(data)
    assert requests.get(image["url"], timeout=30).content == data


def test_upload_policy_names_type_and_size_limits(stack: Stack) -> None:
    response = stack.api.post("/api/images/", json_body={"content_type": "image/webp"})

    assert response.status == 200
    upload = response.json()
    assert upload["upload"]["fields"]["Content-Type"] == "image/webp"
    assert upload["upload"]["fields"]["key"] == f"uploads/{stack.api.tenant}/{upload['image_id']}"
    assert upload["max_bytes"] == 52428800
    # S3 enforces the policy: exactly this type, 1..max_bytes bytes, this key
    policy = json.loads(base64.b64decode(upload["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, 52428800] in policy["conditions"]
    assert {"Content-Type": "image/webp"} in policy["conditions"]
    assert {"key": f"uploads/{stack.api.tenant}/{upload['image_id']}"} in policy["conditions"]


def test_upload_of_a_type_we_do_not_take_is_a_400_naming_the_field(stack: Stack) -> None:
    response = stack.api.post("/api/images/", json_body={"content_type": "application/pdf"})

    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"] == "Bad Request"
    assert [error["field"] for error in problem["errors"]] == ["content_type"]


def test_unknown_image_is_404(stack: Stack) -> None:
    response = stack.api.get(f"/api/images/{UNKNOWN_IMAGE}/")

    assert response.status == 404
    assert response.json()["status"] == 404


def test_image_id_outside_our_prefixes_is_refused(stack: Stack) -> None:
    response = stack.api.get("/api/images/..%2Fsecrets/")

    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "image_id"


def test_unknown_task_is_404_problem(stack: Stack) -> None:
    response = stack.api.get(f"/api/tasks/{UNKNOWN_TASK}/")

    assert response.status == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert UNKNOWN_TASK in response.json()["detail"]


def test_malformed_task_id_is_400(stack: Stack) -> None:
    response = stack.api.get("/api/tasks/not-a-task/")

    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "task_id"


def test_unknown_route_is_404_problem(stack: Stack) -> None:
    response = stack.api.get("/api/nothing-here")

    assert response.status == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_task_body_that_is_not_json_is_400(stack: Stack) -> None:
    response = stack.api.post("/api/tasks/", body="{not json", headers={"Content-Type": "application/json"})

    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["body"]


def test_an_integer_too_long_for_python_is_a_400_not_a_500(stack: Stack) -> None:
    body = '{"image_id": "x", "function_type": "resize", "function_args": {"width": ' + "9" * 5001 + "}}"

    response = stack.api.post("/api/tasks/", body=body, headers={"Content-Type": "application/json"})

    assert response.status == 400
    assert [error["field"] for error in response.json()["errors"]] == ["body"]


def test_a_cursor_from_another_listing_is_a_400_on_cursor(stack: Stack) -> None:
    # Given next-page cursors issued for alice's listing of one image's tasks, and for her whole listing
    image_id = stack.upload(_png(), "image/png")
    for width in (8, 9):
        stack.api.post(
            "/api/tasks/",
            json_body={"image_id": image_id, "function_type": "resize", "function_args": {"width": width}},
        )

    def next_cursor(api: ApiClient, **query: str) -> str:
        link = api.get("/api/tasks/", query={"limit": ["1"], **{k: [v] for k, v in query.items()}}).headers["link"]
        return link.split("cursor=", 1)[1].split("&", 1)[0].split(">", 1)[0]

    by_image = next_cursor(stack.api, image_id=image_id)
    everything = next_cursor(stack.api)

    # When the image's cursor is used without the filter, or alice's cursor by bob, then each is refused
    for api, cursor in ((stack.api, by_image), (stack.api.as_caller(BOB), everything)):
        response = api.get("/api/tasks/", query={"cursor": [cursor]})
        assert response.status == 400
        assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


def test_task_with_missing_fields_names_each(stack: Stack) -> None:
    response = stack.api.post("/api/tasks/", json_body={"function_args": {}})

    assert response.status == 400
    fields = sorted(error["field"] for error in response.json()["errors"])
    assert fields == ["function_type", "image_id"]


def test_task_with_unknown_function_is_400_on_function_type_and_nothing_is_queued(stack: Stack) -> None:
    image_id = stack.upload(_png(), "image/png")

    response = stack.api.post(
        "/api/tasks/", json_body={"image_id": image_id, "function_type": "explode", "function_args": {}}
    )

    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "function_type"
    assert stack.queue_depth(stack.queue_url) == 0
    assert stack.api.get("/api/tasks/").json() == []


def test_openapi_document_lists_every_route(stack: Stack) -> None:
    response = stack.api.get("/api/openapi.json")

    assert response.status == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "/v1"}]  # the stage, so Swagger's "Try it out" works
    assert {"/api/tasks", "/api/tasks/{task_id}", "/api/images", "/api/images/{image_id}", "/api/functions"} <= set(
        document["paths"]
    )


def test_swagger_ui_is_served(stack: Stack) -> None:
    response = stack.api.get("/api/docs")

    assert response.status == 200
    assert "swagger" in response.body.lower()
    # The link under the page's title is the document itself
    assert 'currentUrl.pathname + "?format=json"' in response.body
    linked = stack.api.get("/api/docs", query={"format": ["json"]})
    assert (linked.status, linked.headers["content-type"]) == (200, "application/json")
    assert linked.json() == stack.api.get("/api/openapi.json").json()


def test_cors_headers_let_browsers_call_the_api(stack: Stack) -> None:
    response = stack.api.get("/api/functions/", headers={"Origin": "https://app.example.test"})

    assert response.status == 200
    assert response.headers.get("access-control-allow-origin") == "*"


# Bodies the API cannot read are the client's fault: a 4xx problem, never a 500.
BODY_ROUTES = ("/api/images/", "/api/tasks/")


def test_json_nested_100000_deep_is_a_400_on_body(stack: Stack) -> None:
    for path in BODY_ROUTES:
        for body in ("[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000):
            response = stack.api.post(path, body=body, headers={"Content-Type": "application/json"})

            assert response.status == 400, (path, response.body)
            assert response.headers["content-type"] == "application/problem+json"
            assert [error["field"] for error in response.json()["errors"]] == ["body"]
            assert "nested deeper than" in response.json()["detail"]


def test_json_nested_just_past_the_limit_is_refused_and_real_bodies_are_not(stack: Stack) -> None:
    deep = {"content_type": "image/png", "function_type": "thumbnail", "function_args": {"size": 64}}
    nested: dict[str, object] = {}
    inner = nested
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]  # type: ignore[assignment]

    assert stack.api.post("/api/images/", json_body=deep).status == 200
    response = stack.api.post("/api/images/", json_body={**deep, "function_args": nested})
    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "body"


def test_a_body_that_is_not_json_is_a_415_naming_the_content_type(stack: Stack) -> None:
    for content_type, body in (
        ("text/plain", '{"content_type": "image/png"}'),
        ("application/xml", "<image><content_type>image/png</content_type></image>"),
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("application/x-www-form-urlencoded", "content_type=image%2Fpng"),
        ("multipart/form-data", "--x\r\n"),
    ):
        for path in BODY_ROUTES:
            response = stack.api.post(
                path, body=body, headers={"Content-Type": content_type, "Origin": "https://app.example.test"}
            )

            assert response.status == 415, (content_type, path, response.body)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["access-control-allow-origin"] == "*"  # browsers can read it
            problem = response.json()
            assert problem["status"] == 415
            assert [error["field"] for error in problem["errors"]] == ["Content-Type"]
            assert content_type in problem["detail"]


def test_json_with_a_charset_is_accepted(stack: Stack) -> None:
    response = stack.api.post(
        "/api/images/",
        body='{"content_type": "image/png"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status == 200


def test_a_body_that_is_not_utf8_is_a_400_on_body(stack: Stack) -> None:
    for path in BODY_ROUTES:
        # Latin-1 bytes: API Gateway passes them base64-encoded
        response = stack.api.post(
            path,
            body='{"content_type": "image/p\xe9ng"}'.encode("latin-1"),
            headers={"Content-Type": "application/json"},
        )

        assert response.status == 400, (path, response.body)
        assert response.json()["errors"] == [{"field": "body", "message": "not UTF-8 text"}]


@pytest.mark.parametrize(
    ("public_url", "base"),
    [
        ("", "https://1234567890.execute-api.us-east-1.amazonaws.com/v1"),  # the domain and stage API Gateway reports
        ("https://images.example.com/pixelmill", "https://images.example.com/pixelmill"),  # PublicApiUrl
    ],
)
def test_next_page_link_is_never_built_from_the_host_header(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, public_url: str, base: str
) -> None:
    monkeypatch.setenv("PIXELMILL_PUBLIC_API_URL", public_url)
    get_settings.cache_clear()
    image_id = stack.upload(_png(), "image/png")
    for width in (8, 9):
        stack.api.post(
            "/api/tasks/",
            json_body={"image_id": image_id, "function_type": "resize", "function_args": {"width": width}},
        )

    response = stack.api.get("/api/tasks/", query={"limit": ["1"]}, headers={"Host": "evil.example.test"})

    assert response.headers["link"].startswith(f"<{base}/api/tasks/?limit=1&cursor=")
