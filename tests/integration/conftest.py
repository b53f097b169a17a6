"""The embedded local stack for tests, two ways.

* `local_stack` (module scope): everything in this process under `mock_aws` - the resources
  provisioned from the declarations, moto patched (in-process Lambda, Step Functions execution,
  no sleeping) and the local gateway as a WSGI app with a test client. Fast: no sockets.
* `served_stack` (session scope, for tests/e2e): `custody local up` in a subprocess on free
  ports - a real moto server and gateway over HTTP - found through its own stack.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from moto import mock_aws
from werkzeug.test import Client

from custody.declared import naming
from devstack import asynchronous, events, identity, patches, runtime, wiring
from devstack.auth import JwksCache
from devstack.gateway import Gateway, lambda_invoker
from devstack.iam import synthesis
from devstack.iam.hooks import local_enforcement
from devstack.iam.ledger import LEDGER
from devstack.paths import REPO_ROOT
from devstack.processor_endpoint import FakeProcessor, LocalCertificateAuthority, local_settings, secret_reader
from devstack.provision import ClientFactory, client_factory, provision
from devstack.queue_source import QueueEventSource
from devstack.resources import NoStackRunning, Resources, StackInfo
from devstack.stack import IAM_REPORT, REGION, admission_source, build_gateway, gateway_lambda_config, relay_source

SFN_EXECUTION = {"stepfunctions": {"execute_state_machine": True}}
SERVED_START_TIMEOUT_SECONDS = 90.0


def _requests_fetch(url: str) -> bytes:
    """JWKS over `requests`, which `mock_aws` intercepts (the served stack uses urllib over HTTP)."""
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.content


@dataclass
class LocalStack:
    """The in-process stack: resources, clients, the gateway and a WSGI test client for it."""

    resources: Resources
    clients: ClientFactory
    gateway: Gateway
    http: Client
    # The processor queue's event source mapping to the relay: tests poll it themselves (`relay.poll_once()`).
    relay: QueueEventSource | None = None
    # The admission queue's event source mapping to `erasure_admission`: tests poll it (`admission.poll_once()`).
    admission: QueueEventSource | None = None
    # The fake sub-processor on loopback HTTPS (`processor.endpoint`), acknowledging through `http`.
    processor: FakeProcessor | None = None

    def pool(self, name: str) -> Any:
        return self.resources.user_pools[name]

    @staticmethod
    def wait_for_async(timeout: float = 60.0) -> None:
        """Wait until every `InvocationType=Event` invocation (the exporter's) has run, retries included.

        Raises `devstack.asynchronous.AsyncInvocationsPending` after `timeout` seconds.
        """
        asynchronous.wait_for_async(timeout)

    def customer_token(self, email: str) -> str:
        return identity.customer_tokens(self.clients("cognito-idp"), self.pool(naming.CUSTOMER_POOL), email).id_token

    def staff_token(self, email: str, group: str) -> str:
        """A staff member's access token (their groups as scopes, put there by the pool's trigger)."""
        pool = self.pool(naming.STAFF_POOL)
        return identity.staff_tokens(self.clients("cognito-idp"), pool, email, group).access_token

    def invoke(
        self,
        method: str,
        path: str,
        claims: Mapping[str, str] | None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Invoke the route's function directly (Lambda API) with the event API Gateway builds for a
        request whose token its authorizer let through with `claims` — the Lambda boundary, no
        gateway in front. Returns the proxy response; a function error fails the test."""
        path, _, query = path.partition("?")
        found = events.route_of(method, path)
        assert found is not None, f"no route for {method} {path}"
        route, parameters = found
        event = events.proxy_event(
            route,
            path,
            path_parameters=parameters,
            headers={"Content-Type": "application/json", **(headers or {})}.items(),
            query=parse_qsl(query),
            body=None if body is None else json.dumps(body),
            claims=claims,
        )
        outcome = lambda_invoker(self.clients("lambda"))(self.resources.functions[route.function].name, event)
        assert not outcome.errored, f"{route.key}: the function raised {outcome.error_type}"
        answer: dict[str, Any] = outcome.result()
        return answer

    def acknowledge_as(self, processor_id: str, request_id: str, task_token: str) -> int:
        """What the fake processor does once it has deleted: `POST /v1/processors/erasure-acks` with its own token."""
        body = {"processor_id": processor_id, "request_id": request_id, "task_token": task_token}
        response = self.http.post(
            "/v1/processors/erasure-acks",
            data=json.dumps(body),
            headers={
                "Authorization": f"Bearer {self.processor_token(processor_id)}",
                "Content-Type": "application/json",
            },
        )
        return int(response.status_code)

    def processor_token(self, processor_id: str) -> str:
        """A sub-processor machine client's access token (client credentials, from the gateway's token endpoint)."""

        def post(path: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, bytes]:
            response = self.http.post(path, data=dict(form), headers=dict(headers))
            return response.status_code, response.get_data()

        pool = self.pool(naming.PROCESSOR_POOL)
        return identity.processor_tokens(self.clients("cognito-idp"), pool, processor_id, post).access_token


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    with running_local_stack() as stack:
        yield stack


@contextmanager
def running_local_stack(time_scale: float = 0.0) -> Iterator[LocalStack]:
    """The in-process stack for as long as the block runs (fixtures of other scopes use it too).

    `time_scale` scales retry and `Wait` delays (0: none); a burst that throttles wants a little
    (e.g. 0.02) so that backing off lets capacity free up."""
    with (
        pytest.MonkeyPatch.context() as env,
        mock_aws(config=SFN_EXECUTION),  # type: ignore[arg-type]
        patches.patched(time_scale=time_scale),
    ):
        env.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
        runtime.set_aws_endpoint(None)
        runtime.reset_function_clients()
        clients = client_factory(REGION)
        authority = LocalCertificateAuthority.temporary()
        resources = provision(clients, local_settings(authority))
        # API Gateway's integration does not retry an invocation Lambda refused (as the served stack's).
        gateway_lambda = client_factory(REGION, None, gateway_lambda_config())("lambda")
        gateway = build_gateway(resources, gateway_lambda, None, JwksCache(_requests_fetch))
        with local_enforcement(resources, clients), wiring.from_template(resources, clients):
            stack = LocalStack(resources, clients, gateway, Client(gateway))
            stack.processor = FakeProcessor(
                authority,
                acknowledge=stack.acknowledge_as,
                secret_for=secret_reader(clients("secretsmanager"), naming.DEFAULT_PREFIX),
            ).start()
            stack.relay = relay_source(resources, client_factory(REGION), clients("lambda"))  # its own SQS client
            stack.admission = admission_source(resources, client_factory(REGION), clients("lambda"))
            try:
                yield stack
                # Nothing a test started asynchronously may run on against a torn-down stack.
                asynchronous.wait_for_async(timeout=60.0)
            finally:
                stack.processor.stop()
        runtime.reset_function_clients()


# --- the served stack -----------------------------------------------------------------------


@dataclass
class ServedStack:
    info: StackInfo
    state_dir: Path
    log: Path

    def clients(self) -> ClientFactory:
        return client_factory(self.info.region, self.info.aws_endpoint_url)


def _start_served(state_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = state_dir / "stack.log"
    command = [
        sys.executable,
        "-m",
        "ops.cli",
        "-v",
        "local",
        "up",
        "--port",
        "0",
        "--aws-port",
        "0",
        "--time-scale",
        "0",
        "--state-dir",
        str(state_dir),
    ]
    # The served stack enforces the template this session synthesized (once, shared).
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", synthesis.TEMPLATE_VARIABLE: str(synthesis.template_path())}
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, env=environment
        )
    return process, log


def _wait_for(process: subprocess.Popen[bytes], state_dir: Path, log: Path) -> StackInfo:
    deadline = time.monotonic() + SERVED_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`custody local up` exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            return StackInfo.load(state_dir)
        except NoStackRunning:
            time.sleep(0.1)
    raise RuntimeError(f"`custody local up` did not start in {SERVED_START_TIMEOUT_SECONDS} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def served_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStack]:
    state_dir = tmp_path_factory.mktemp("devstack")
    process, log = _start_served(state_dir)
    try:
        info = _wait_for(process, state_dir, log)
        yield ServedStack(info, state_dir, log)
    finally:
        _stop(process)
        report = state_dir / IAM_REPORT
        if report.exists():  # the served stack's IAM checks count in this session's figures
            LEDGER.merge(json.loads(report.read_text()))
