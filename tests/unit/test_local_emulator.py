"""The local stack's moto server: moto's answers, on kept-alive connections, without listing moto's
directory per request."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator

import boto3
import pytest
from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from infra.local.emulator import Dispatcher, KeepAliveHandler

HOSTS = [
    None,
    "moto_api",
    "s3",
    "s3.us-east-1.amazonaws.com",
    "sqs.eu-west-1.amazonaws.com",
    "dynamodb.us-east-1.amazonaws.com",
    "secretsmanager.us-east-1.amazonaws.com",
    "iam.us-east-1.amazonaws.com",
    "nothing.example.test",
]


def test_each_host_gets_the_service_moto_gives_it() -> None:
    ours, moto = Dispatcher(create_backend_app), DomainDispatcherApplication(create_backend_app)
    for _ in range(2):  # worked out, then remembered
        assert [ours.get_backend_for_host(host) for host in HOSTS] == [
            moto.get_backend_for_host(host) for host in HOSTS
        ]


def test_moto_lists_its_directory_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[str] = []
    modules = list(backends.list_of_moto_modules())

    def list_of_moto_modules() -> list[str]:
        listed.append("listed")
        return modules

    monkeypatch.setattr(backends, "list_of_moto_modules", list_of_moto_modules)
    dispatcher = Dispatcher(create_backend_app)
    for _ in range(5):
        assert dispatcher.get_backend_for_host("s3.us-east-1.amazonaws.com") == "s3"
    assert len(listed) == 1


@pytest.fixture
def emulator() -> Iterator[tuple[str, int]]:
    server = make_server(
        "127.0.0.1", 0, Dispatcher(create_backend_app), threaded=True, request_handler=KeepAliveHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_stays_open_from_request_to_request(emulator: tuple[str, int]) -> None:
    # Given one connection to the emulator and a bucket
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{emulator[0]}:{emulator[1]}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    s3.create_bucket(Bucket="keep-alive")
    connection = http.client.HTTPConnection(*emulator)
    signed = [
        ("PUT", s3.generate_presigned_url("put_object", Params={"Bucket": "keep-alive", "Key": "a"}), b"first"),
        ("GET", s3.generate_presigned_url("get_object", Params={"Bucket": "keep-alive", "Key": "a"}), b""),
        ("GET", s3.generate_presigned_url("get_object", Params={"Bucket": "keep-alive", "Key": "nope"}), b""),
        ("PUT", s3.generate_presigned_url("put_object", Params={"Bucket": "keep-alive", "Key": "a"}), b"second"),
        ("GET", s3.generate_presigned_url("get_object", Params={"Bucket": "keep-alive", "Key": "a"}), b""),
    ]
    answers = []
    sockets = set()
    # When requests follow each other on it (a missing key's error among them)
    for method, url, body in signed:
        connection.request(method, url.split(str(emulator[1]), 1)[1], body=body or None)
        response = connection.getresponse()
        answers.append((response.status, response.read()))
        sockets.add(id(connection.sock))
    # Then each is answered as moto answers it, on the one connection
    assert [status for status, _ in answers] == [200, 200, 404, 200, 200]
    assert answers[1][1] == b"first"
    assert answers[4][1] == b"second"
    assert len(sockets) == 1
    assert connection.sock is not None
    connection.close()


def test_a_connection_whose_request_was_not_read_whole_is_closed(emulator: tuple[str, int]) -> None:
    # A chunked body: what follows it cannot be told from the next request without reading it all
    connection = http.client.HTTPConnection(*emulator)
    connection.request("PUT", "/chunked-bucket", body=iter([b"<x/>"]), encode_chunked=True)
    response = connection.getresponse()
    response.read()
    assert response.getheader("Connection") == "close"
    connection.close()
