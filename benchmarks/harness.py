"""What every benchmark shares: an in-process moto account provisioned from the declarations,
customers created the way the API creates them, and a clock that is only ever compared with
another clock read in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from devstack.stack import prepare_process_environment

# Fake credentials before any client exists (a developer's real ones must never be used).
prepare_process_environment()
os.environ.update(
    {
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines on stdout would drown the tables
    }
)

from moto import mock_aws  # noqa: E402 - after the fake credentials

from custody.crypto.keyring import get_keyring  # noqa: E402 - after the fake credentials
from custody.declared.catalog import Audience  # noqa: E402 - after the fake credentials
from custody.declared.settings import Settings, get_settings  # noqa: E402 - after the fake credentials
from custody.platform import aws  # noqa: E402 - after the fake credentials
from devstack import atomicity, events  # noqa: E402 - after the fake credentials
from devstack.provision import client_factory, provision  # noqa: E402 - after the fake credentials
from devstack.resources import Resources  # noqa: E402 - after the fake credentials
from devstack.runtime import LocalLambdaContext  # noqa: E402 - after the fake credentials


@contextmanager
def account(config: dict[str, Any] | None = None) -> Iterator[tuple[Resources, Settings]]:
    """A fresh moto account with the stack provisioned, and the functions' settings pointing at it."""
    atomicity.install()
    with mock_aws(config=config):  # type: ignore[arg-type]
        resources = provision(client_factory("us-east-1"))
        saved = {name: os.environ.get(name) for name in resources.environment}
        os.environ.update(resources.environment)
        get_settings.cache_clear()
        get_keyring.cache_clear()
        aws.reset_clients()
        try:
            yield resources, get_settings()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            get_settings.cache_clear()
            get_keyring.cache_clear()
            aws.reset_clients()


@dataclass
class Caller:
    """A signed-in customer calling handlers in-process, with the event and claims API Gateway would pass."""

    subject_id: str
    resources: Resources

    def call(self, function: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        module = __import__(f"{function}.handler", fromlist=["lambda_handler"])
        found = events.route_of(method, path)
        if found is None:
            raise KeyError(f"no route {method} {path}")
        event = events.proxy_event(
            found[0],
            path,
            path_parameters=found[1],
            headers=[("Content-Type", "application/json")],
            body=None if body is None else json.dumps(body),
            claims=events.cognito_claims(self.resources, Audience.CUSTOMER, self.subject_id),
        )
        response: dict[str, Any] = module.lambda_handler(event, LocalLambdaContext.for_call(function))
        if int(response["statusCode"]) >= 300:
            raise RuntimeError(f"{method} {path} answered {response['statusCode']}")
        return response


def new_caller(resources: Resources) -> Caller:
    return Caller(str(uuid.uuid4()), resources)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return p50, p95


def timed(work: Callable[[], Any], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return samples


ApiCallObserver = Callable[[str, dict[str, Any], float], None]


@contextmanager
def observing_every_call(observe: ApiCallObserver) -> Iterator[None]:
    """`observe(service.Operation, params, seconds)` after every botocore call in this process.

    Functions run in-process build clients of their own (per function environment), so this
    hooks the one method every client call goes through rather than particular clients.
    """
    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - botocore's private, untyped entry point

    def observed(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return original(client, operation, params)
        finally:
            observe(f"{client.meta.service_model.service_name}.{operation}", params, time.perf_counter() - started)

    setattr(BaseClient, "_make_api_call", observed)  # noqa: B010
    try:
        yield
    finally:
        setattr(BaseClient, "_make_api_call", original)  # noqa: B010
