"""The local stack's moto dispatcher: moto's answers, without listing moto's directory per request."""

from __future__ import annotations

import pytest
from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from infra.local.emulator import Dispatcher

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
