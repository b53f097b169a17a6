"""The boto3 client factory: lazy, cached, resettable, one config, endpoint from the environment."""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
import pytest

from custody.platform import aws
from custody.platform.aws import CLIENT_CONFIG, WIRE_LOGGERS, Clients


class _CountingSession:
    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.clients: list[tuple[str, dict[str, Any]]] = []

    def client(self, service: str, **kwargs: Any) -> object:
        self.clients.append((service, kwargs))
        return object()


@pytest.fixture
def counting_session(monkeypatch: pytest.MonkeyPatch) -> type[_CountingSession]:
    _CountingSession.made = 0
    monkeypatch.setattr(boto3.session, "Session", _CountingSession)
    return _CountingSession


def test_nothing_is_built_until_first_use_then_each_client_is_built_once(
    counting_session: type[_CountingSession],
) -> None:
    factory = Clients(region="eu-west-1")
    assert counting_session.made == 0

    kms = factory.kms()
    assert factory.kms() is kms
    factory.s3()
    factory.dynamodb()

    assert counting_session.made == 1
    session = factory._session
    assert isinstance(session, _CountingSession)
    assert [service for service, _ in session.clients] == ["kms", "s3", "dynamodb"]
    assert all(kwargs == {"region_name": "eu-west-1", "config": CLIENT_CONFIG} for _, kwargs in session.clients)


def test_service_names_match_boto3(counting_session: type[_CountingSession]) -> None:
    factory = Clients(region="us-east-1")
    for build in (
        factory.dynamodb,
        factory.kms,
        factory.s3,
        factory.stepfunctions,
        factory.cognito_idp,
        factory.sns,
    ):
        build()
    session = factory._session
    assert isinstance(session, _CountingSession)
    assert [service for service, _ in session.clients] == [
        "dynamodb",
        "kms",
        "s3",
        "stepfunctions",
        "cognito-idp",
        "sns",
    ]


def test_reset_forgets_clients_and_session(counting_session: type[_CountingSession]) -> None:
    factory = Clients(region="us-east-1")
    first = factory.sns()
    factory.reset()
    assert factory.sns() is not first
    assert counting_session.made == 2


def test_concurrent_first_use_builds_one_client(counting_session: type[_CountingSession]) -> None:
    factory = Clients(region="us-east-1")
    start = threading.Barrier(8)
    results: list[object] = []

    def build() -> None:
        start.wait()
        results.append(factory.kms())

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(client) for client in results}) == 1
    assert counting_session.made == 1


def test_config_uses_adaptive_retries_and_bounded_timeouts() -> None:
    config: Any = CLIENT_CONFIG  # the stubs do not declare Config's attributes
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 4}
    connect, read = config.connect_timeout, config.read_timeout
    # Every attempt's worst-case waits fit inside API Gateway's 29 seconds.
    assert 4 * (connect + read) < 29


def test_real_clients_honour_aws_endpoint_url_and_settings_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    factory = Clients()
    client = factory.dynamodb()
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.region_name == "us-east-1"
    config: Any = client.meta.config
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 4}


def test_reset_clients_resets_the_process_wide_factory() -> None:
    before = aws.clients.sns()
    aws.reset_clients()
    assert aws.clients.sns() is not before
    aws.reset_clients()


def test_wire_loggers_are_held_at_info_even_under_a_debug_root() -> None:
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    Clients(region="us-east-1").kms()
    assert all(logging.getLogger(name).level == logging.INFO for name in WIRE_LOGGERS)
