"""The relay: each deletion request on the processor queue, POSTed signed to that processor's HTTPS endpoint.

The erasure workflow's `ask_processor` step puts `{kind, task_token, request_id, subject_id,
processor_id, deadline}` on the notification queue (`custody.subprocessors.notifications`): ids, a
deadline and a task token, no value of the customer's. The `processor_relay` function, invoked by
the queue's event source mapping, hands each message to `Relay.deliver`, which

1. reads the processor's agreement: its channel must be `https` with an endpoint that is still
   acceptable (`registry.endpoint_problem`) and whose host resolves to public addresses only;
2. signs the body with the processor's secret(s) (`custody.subprocessors.signing`,
   `custody.stores.signing_secrets`);
3. POSTs it (urllib3; TLS verified against the system's trust store, or in the local stack the one
   CA its setting names; no redirects followed) and requires a 2xx.

Anything else raises `DeliveryFailed`, whose message names ids and a reason only. The message then
stays on the queue: the function reports it as a batch item failure and pushes its next attempt
back with a jittered exponential delay (`retry_delay`); after the queue's `maxReceiveCount`
receives SQS moves it to the dead-letter queue, whose alarm pages the privacy officers
(docs/runbooks/unconfirmed-processor.md). The processor completes the workflow's wait itself, by
returning the task token to `POST /v1/processors/erasure-acks`.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import ssl
import time
from collections.abc import Callable
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

import urllib3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from custody.declared.settings import Settings
from custody.stores.signing_secrets import SigningSecrets
from custody.subprocessors.registry import PROCESSOR_ID_PATTERN, ProcessorRegistry, endpoint_problem
from custody.subprocessors.signing import signed_headers

PROCESSOR_HEADER: Final = "X-Custody-Processor"
USER_AGENT: Final = "crm-custody-relay/1"
CONNECT_SECONDS: Final = 3.0
READ_SECONDS: Final = 10.0
BASE_DELAY_SECONDS: Final = 60
MAX_DELAY_SECONDS: Final = 3600  # SQS allows 12 hours; an hour keeps the retries within a working day
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})

Resolver = Callable[[str, int], list[str]]


class DeletionRequest(BaseModel):
    """A message of the notification queue, as `notifications.send_erasure_request` writes it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["erasure"]
    task_token: Annotated[str, Field(min_length=1, max_length=1024)]
    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    subject_id: Annotated[str, Field(min_length=1, max_length=128)]
    processor_id: Annotated[str, Field(pattern=PROCESSOR_ID_PATTERN)]
    deadline: Annotated[str, Field(min_length=1, max_length=40)]


class DeliveryFailed(Exception):
    """A deletion request did not reach its processor; the message names ids and a reason only."""


def retry_delay(receive_count: int, rng: random.Random | None = None) -> int:
    """Seconds before the next attempt after the `receive_count`-th: full jitter over an exponential cap.

    Uniform in [1, min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** (receive_count - 1))].
    """
    ceiling = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** max(0, min(receive_count, 16) - 1))
    return (rng or random.SystemRandom()).randint(1, ceiling)


def _resolve(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


class Relay:
    """Delivers deletion requests under `settings`. `resolve` (host, port → addresses) is the DNS lookup."""

    def __init__(self, settings: Settings, resolve: Resolver = _resolve) -> None:
        self.settings = settings
        self.registry = ProcessorRegistry(settings)
        self.secrets = SigningSecrets(settings)
        self.resolve = resolve
        context = ssl.create_default_context(cafile=settings.processor_endpoint_ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.http = urllib3.PoolManager(ssl_context=context, retries=False, headers={"User-Agent": USER_AGENT})

    def deliver(self, body: str, delivery_id: str, now: float | None = None) -> int:
        """POST the request in `body` to its processor, signed; returns the endpoint's 2xx status.

        Raises `DeliveryFailed` for a message that is not a deletion request, a processor with no
        agreement, no `https` endpoint or no signing secret, an endpoint that is no longer acceptable
        or resolves to a non-public address, a connection or TLS failure, or a non-2xx answer.
        """
        try:
            request = DeletionRequest.model_validate_json(body)
        except ValidationError:
            raise DeliveryFailed(f"delivery {delivery_id}: not a deletion request") from None
        processor_id = request.processor_id
        agreement = self.registry.get(processor_id)
        endpoint = agreement.deletion_channel.endpoint if agreement is not None else None
        if agreement is None or agreement.deletion_channel.kind != "https" or endpoint is None:
            raise DeliveryFailed(f"processor {processor_id}: no https endpoint registered")
        self._check(processor_id, endpoint)
        secrets = self.secrets.signing(processor_id)
        if not secrets:
            raise DeliveryFailed(f"processor {processor_id}: no signing secret")
        payload = json.dumps(request.model_dump(), separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            PROCESSOR_HEADER: processor_id,
            **signed_headers(secrets, int(time.time() if now is None else now), payload, delivery_id),
        }
        try:
            response = self.http.request(
                "POST",
                endpoint,
                body=payload,
                headers=headers,
                redirect=False,
                timeout=urllib3.Timeout(connect=CONNECT_SECONDS, read=READ_SECONDS),
                # Only the status counts: the body is never read, however large the endpoint makes it.
                preload_content=False,
            )
            response.close()
        except urllib3.exceptions.HTTPError as error:
            raise DeliveryFailed(f"processor {processor_id}: {type(error).__name__}") from None
        if not 200 <= response.status < 300:
            raise DeliveryFailed(f"processor {processor_id}: endpoint answered {response.status}")
        return int(response.status)

    def _check(self, processor_id: str, endpoint: str) -> None:
        allow_loopback = self.settings.processor_endpoints_allow_loopback
        problem = endpoint_problem(endpoint, allow_loopback=allow_loopback)
        if problem:
            raise DeliveryFailed(f"processor {processor_id}: endpoint {problem}")
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").rstrip(".").lower()
        try:
            addresses = self.resolve(host, parts.port or 443)
        except OSError:
            raise DeliveryFailed(f"processor {processor_id}: endpoint host does not resolve") from None
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not (ip.is_global or (allow_loopback and host in _LOOPBACK and ip.is_loopback)):
                raise DeliveryFailed(f"processor {processor_id}: endpoint resolves to a non-public address")
