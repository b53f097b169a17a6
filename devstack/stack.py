"""The whole local stack in one process: moto server, provisioned resources, gateway, stack file."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from botocore.config import Config

from custody.declared import catalog, naming
from custody.declared.catalog import Audience
from custody.declared.settings import ENV_PREFIX
from devstack import openapi, site, wiring
from devstack.auth import JwksCache, TokenVerifier, UserPool
from devstack.gateway import DEFAULT_PORT, Gateway, GatewayServer, lambda_invoker
from devstack.iam.hooks import local_enforcement
from devstack.iam.ledger import LEDGER
from devstack.processor_endpoint import (
    FakeProcessor,
    LocalCertificateAuthority,
    http_acknowledger,
    local_settings,
    secret_reader,
)
from devstack.provision import client_factory, provision
from devstack.queue_source import QueueEventSource
from devstack.resources import Resources, StackInfo, remove_stack_file
from devstack.server import DEMO_TIME_SCALE, HOST, EmbeddedAws, check_port_free

LOG = logging.getLogger("devstack")

DEFAULT_AWS_PORT: Final = 5000
REGION: Final = "us-east-1"
IAM_REPORT: Final = "iam.json"  # what IAM enforcement counted, written to the state dir on stop

# Which user pool signs in each audience (infra.constructs.api: one authorizer per audience).
AUDIENCE_POOLS: Final = {
    Audience.CUSTOMER: naming.CUSTOMER_POOL,
    Audience.STAFF: naming.STAFF_POOL,
    Audience.PROCESSOR: naming.PROCESSOR_POOL,
}

# The process-wide settings every local stack needs: fake credentials (a developer's real ones
# must never be used, even by accident) and moto's TOTP check for the staff pool's MFA.
PROCESS_ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true",
}


def prepare_process_environment() -> None:
    os.environ.update(PROCESS_ENVIRONMENT)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)


def user_pools(resources: Resources, aws_endpoint: str | None) -> dict[Audience, UserPool]:
    """Each audience's authorizer's pool. JWKS from the served moto, or (under `mock_aws`) its AWS URL."""
    found: dict[Audience, UserPool] = {}
    for audience, pool_name in AUDIENCE_POOLS.items():
        pool = resources.user_pools.get(pool_name)
        if pool is None:
            continue
        jwks_url = (
            f"{aws_endpoint}/{pool.pool_id}/.well-known/jwks.json"
            if aws_endpoint
            else f"{pool.issuer}/.well-known/jwks.json"
        )
        found[audience] = UserPool(pool.issuer, jwks_url)
    return found


def build_gateway(
    resources: Resources,
    lambda_client: Any,
    aws_endpoint: str | None,
    jwks: JwksCache | None = None,
    openapi_document: Callable[[], dict[str, Any]] = openapi.build,
) -> Gateway:
    functions = {name: info.name for name, info in resources.functions.items() if info.api}
    prefix = resources.environment.get(ENV_PREFIX + "RESOURCE_PREFIX", naming.DEFAULT_PREFIX)
    verifier = TokenVerifier(user_pools(resources, aws_endpoint), prefix, jwks or JwksCache())
    return Gateway(
        functions,
        verifier,
        lambda_invoker(lambda_client),
        openapi_document,
        account_id=resources.account_id,
        region=resources.region,
        pages=site.Site(site.local_config(resources, aws_endpoint)),
    )


def gateway_lambda_config() -> Config:
    """API Gateway's integration: no retries, and a read timeout longer than any API function's."""
    return Config(retries={"total_max_attempts": 1}, read_timeout=120, connect_timeout=5)


class LocalStack:
    """Start with `start()` (or as a context manager); `info` describes it, as stack.json does."""

    def __init__(
        self,
        *,
        api_port: int = DEFAULT_PORT,
        aws_port: int = DEFAULT_AWS_PORT,
        state_dir: Path | None = None,
        time_scale: float = DEMO_TIME_SCALE,
    ) -> None:
        self.aws = EmbeddedAws(port=aws_port, time_scale=time_scale)
        self.api_port = api_port
        self.state_dir = state_dir
        self.gateway: GatewayServer | None = None
        self.info: StackInfo | None = None
        self.relay: QueueEventSource | None = None
        self.admission: QueueEventSource | None = None
        self.processor: FakeProcessor | None = None
        self._enforcement = ExitStack()

    def start(self) -> StackInfo:
        prepare_process_environment()
        check_port_free(HOST, self.api_port, "API")
        endpoint = self.aws.start()
        try:
            clients = client_factory(REGION, endpoint)
            state = self.state_dir if self.state_dir is not None else Path(tempfile.mkdtemp(prefix="custody-local-"))
            authority = LocalCertificateAuthority(state / "processor-tls")
            resources = provision(clients, local_settings(authority))
            self._enforcement.enter_context(local_enforcement(resources, clients))
            self._enforcement.enter_context(wiring.from_template(resources, clients))
            lambda_client = client_factory(REGION, endpoint, gateway_lambda_config())("lambda")
            app = build_gateway(resources, lambda_client, endpoint)
            self.gateway = GatewayServer(app, port=self.api_port)
            api_url = self.gateway.start()
            self.processor = FakeProcessor(
                authority,
                acknowledge=http_acknowledger(
                    api_url, clients("cognito-idp"), resources.user_pools[naming.PROCESSOR_POOL]
                ),
                secret_for=secret_reader(
                    clients("secretsmanager"), resources.environment[ENV_PREFIX + "RESOURCE_PREFIX"]
                ),
            ).start()
            resources = replace(resources, processor_endpoint=self.processor.endpoint)
            self.relay = relay_source(resources, client_factory(REGION, endpoint), lambda_client).start()
            self.admission = admission_source(resources, client_factory(REGION, endpoint), lambda_client).start()
        except BaseException:
            self.stop()
            raise
        self.info = StackInfo(api_url=api_url, aws_endpoint_url=endpoint, resources=resources)
        if self.state_dir is not None:
            self.info.write(self.state_dir)
        # Warm up off the critical path: importing the handlers (for the OpenAPI document) is
        # what the first request would otherwise pay.
        threading.Thread(target=_warm, args=(app,), name="devstack-warmup", daemon=True).start()
        return self.info

    def stop(self) -> None:
        for source in (self.relay, self.admission):
            if source is not None:
                source.stop()
        self.relay = self.admission = None
        if self.processor is not None:
            self.processor.stop()
            self.processor = None
        self._enforcement.close()
        if self.state_dir is not None:
            remove_stack_file(self.state_dir)
            if self.state_dir.is_dir():
                (self.state_dir / IAM_REPORT).write_text(json.dumps(LEDGER.snapshot()) + "\n")
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        self.aws.stop()

    @contextmanager
    def running(self) -> Iterator[StackInfo]:
        info = self.start()
        try:
            yield info
        finally:
            self.stop()


def relay_source(resources: Resources, clients: Callable[[str], Any], lambda_client: Any) -> QueueEventSource:
    """The processor queue's event source mapping to the relay (as infra.constructs.notifications declares it)."""
    return queue_source(resources, clients, lambda_client, naming.PROCESSOR_NOTIFICATIONS, naming.PROCESSOR_RELAY)


def admission_source(resources: Resources, clients: Callable[[str], Any], lambda_client: Any) -> QueueEventSource:
    """The admission queue's event source mapping to `erasure_admission` (as infra.constructs.admission declares it)."""
    return queue_source(resources, clients, lambda_client, naming.ERASURE_ADMISSIONS, naming.ERASURE_ADMISSION)


def queue_source(
    resources: Resources, clients: Callable[[str], Any], lambda_client: Any, queue: str, function: str
) -> QueueEventSource:
    """The event source mapping from the logical `queue` to the catalog `function`, at its declared batch size."""
    sqs = clients("sqs")
    url = resources.queues[queue]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueEventSource(
        sqs,
        url,
        arn,
        resources.functions[function].name,
        lambda_invoker(lambda_client),
        resources.region,
        batch_size=catalog.function(function).queue_batch_size,
    )


def _warm(app: Gateway) -> None:
    try:
        app.openapi_bytes()
    except Exception:  # the /openapi.json request will report it
        LOG.exception("Building the OpenAPI document failed")
