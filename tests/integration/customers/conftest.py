"""The customer API in-process: handlers on moto, resources provisioned from the declarations."""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from moto import mock_aws

from custody.crypto.keyring import get_keyring
from custody.declared.catalog import Audience
from custody.declared.settings import get_settings
from custody.platform import aws
from devstack import atomicity, events
from devstack.iam.enforce import acting_as
from devstack.iam.hooks import local_enforcement
from devstack.metering import counting_calls
from devstack.provision import client_factory, provision
from devstack.resources import Resources
from devstack.runtime import LocalLambdaContext

REGION = "us-east-1"


@pytest.fixture(scope="module")
def stack() -> Iterator[Resources]:
    """One moto account per test module; tests stay apart by using fresh subject ids."""
    atomicity.install()
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        clients = client_factory(REGION)
        resources = provision(clients)
        for name, value in resources.environment.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        get_keyring.cache_clear()
        with local_enforcement(resources, clients):
            yield resources
        get_settings.cache_clear()
        get_keyring.cache_clear()
        aws.reset_clients()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: str
    is_base64: bool

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def content(self) -> bytes:
        return base64.b64decode(self.raw) if self.is_base64 else self.raw.encode()


@dataclass
class Customer:
    """A signed-in customer: every call carries their verified claims, as API Gateway passes them."""

    subject_id: str
    email: str
    auth_time: int
    resources: Resources

    def claims(self) -> dict[str, str]:
        return events.cognito_claims(
            self.resources, Audience.CUSTOMER, self.subject_id, email=self.email, auth_time=str(self.auth_time)
        )


_ENVIRONMENTS = threading.local()


def handler_of(function: str) -> Any:
    """The function's handler in the calling thread's execution environment.

    Lambda serves concurrent requests from separate execution environments, each with its own
    copy of the handler module's state (the REST resolver keeps the current route in
    `app.context`). The main thread uses the imported module; every other thread that calls a
    function gets its own copy of the handler module, loaded from the same file, so threads that
    call one function at once interleave only where AWS would: in the stores.
    """
    module = importlib.import_module(f"{function}.handler")
    if threading.current_thread() is threading.main_thread():
        return module.lambda_handler
    copies: dict[str, Any] = _ENVIRONMENTS.__dict__.setdefault("handlers", {})
    if function not in copies:
        name = f"{function}.handler_env_{threading.get_ident()}"
        spec = importlib.util.spec_from_file_location(name, module.__file__)
        assert spec is not None
        assert spec.loader is not None
        copy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(copy)
        copies[function] = copy.lambda_handler
    return copies[function]


def call(
    function: str,
    method: str,
    path: str,
    customer: Customer | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> Reply:
    path, _, query = path.partition("?")
    found = events.route_of(method, path)
    assert found is not None, f"no route for {method} {path}"
    route, parameters = found
    event = events.proxy_event(
        route,
        path,
        path_parameters=parameters,
        query=parse_qsl(query),
        headers={"Content-Type": "application/json", **(headers or {})}.items(),
        body=raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
        claims=customer.claims() if customer else None,
    )
    with acting_as(function):  # the handler's AWS calls are checked against the function's role
        response = handler_of(function)(event, LocalLambdaContext.for_call(function))
    headers_out = {key: values[-1] for key, values in response.get("multiValueHeaders", {}).items()}
    headers_out.update(response.get("headers") or {})
    return Reply(int(response["statusCode"]), headers_out, response["body"], bool(response.get("isBase64Encoded")))


@pytest.fixture
def new_customer(stack: Resources) -> Any:
    import time

    def make() -> Customer:
        subject = str(uuid.uuid4())
        return Customer(subject, f"{subject[:8]}@example.com", int(time.time()), stack)

    return make


@pytest.fixture
def customer(new_customer: Any) -> Customer:
    made: Customer = new_customer()
    return made


@pytest.fixture
def aws_calls(stack: Resources) -> Iterator[Counter[str]]:
    """Every AWS call the functions make through `custody.platform.aws`, by `service.Operation`."""
    with counting_calls("dynamodb", "kms", "s3") as counted:
        yield counted


def grant(customer: Customer, *purposes: str) -> None:
    for purpose in purposes:
        reply = call("collect", "POST", "/v1/me/consents", customer, {"purpose": purpose, "policy_version": "2026-11"})
        assert reply.status == 201, reply.raw
