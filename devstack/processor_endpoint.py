"""A fake sub-processor on loopback: an HTTPS endpoint that checks the relay's signature and acknowledges.

`LocalCertificateAuthority` makes, with `cryptography`, a CA and a server certificate for
127.0.0.1 / localhost / [::1] at startup (never written anywhere but the stack's own directory);
the relay trusts that CA only through the local setting `processor_endpoint_ca_file`.

`FakeProcessor` serves `POST /erasure-requests` over TLS with that certificate, for any number of
processors (the `X-Custody-Processor` header says which). For each request it verifies the
signature (`custody.subprocessors.signing.verify`) with the secret the registry issued to that
processor — `secret_for` reads it, standing in for the privacy officer who hands it over; `register`
gives a processor another one (a processor holding a wrong secret) — and a request that does not
verify is answered 401 and recorded, nothing more. One that does is answered 202 at
once and acknowledged afterwards from another thread by `acknowledge(processor_id, request_id,
task_token)` — a real processor deletes, then calls `POST /v1/processors/erasure-acks` with its own
token; answering first keeps the relay's invocation short. `fail_with` makes it answer an error
status instead (retries, the dead-letter queue).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from custody.declared.settings import Settings
from custody.subprocessors import signing
from custody.subprocessors.relay import PROCESSOR_HEADER
from devstack import identity
from devstack.resources import UserPoolInfo

LOG = logging.getLogger("devstack.processor")
HOST: Final = "127.0.0.1"
PATH: Final = "/erasure-requests"
MAX_BODY: Final = 16_384

Acknowledge = Callable[[str, str, str], int]
SecretFor = Callable[[str], "str | None"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class LocalCertificateAuthority:
    """A CA of this run and a loopback server certificate it signed, as PEM files under `directory`."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("CRM Custody local processor CA"))
            .issuer_name(_name("CRM Custody local processor CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = (
            x509.CertificateBuilder()
            .subject_name(_name("localhost"))
            .issuer_name(ca.subject)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address("::1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = directory / "processor-ca.pem"
        self.cert_file = directory / "processor-server.pem"
        self.key_file = directory / "processor-server.key"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.key_file.chmod(0o600)

    @classmethod
    def temporary(cls) -> LocalCertificateAuthority:
        """A CA in a fresh temporary directory (tests; the served stack uses its state directory)."""
        return cls(Path(tempfile.mkdtemp(prefix="custody-processor-ca-")))


@dataclass
class Delivery:
    """What the fake processor saw of one POST: ids and outcomes, never the token."""

    processor_id: str
    request_id: str
    delivery_id: str
    verified: bool
    status: int
    acknowledged: int | None = None  # the ack route's HTTP status, once called


@dataclass
class FakeProcessor:
    """The loopback HTTPS endpoint of any number of fake processors (`register` each with its secret)."""

    authority: LocalCertificateAuthority
    acknowledge: Acknowledge
    secret_for: SecretFor
    deliveries: list[Delivery] = field(default_factory=list)
    fail_with: dict[str, int] = field(default_factory=dict)  # processor id -> status to answer
    _secrets: dict[str, str] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def register(self, processor_id: str, secret: str) -> None:
        """Make the processor verify with `secret` rather than the one `secret_for` finds."""
        self._secrets[processor_id] = secret

    @property
    def endpoint(self) -> str:
        """The URL an agreement names for it: `https://127.0.0.1:<port>/erasure-requests`."""
        assert self._server is not None, "start() first"
        return f"https://{HOST}:{self._server.server_address[1]}{PATH}"

    def start(self) -> FakeProcessor:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                LOG.debug("fake processor: " + format, *args)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.authority.cert_file, self.authority.key_file)
        server = ThreadingHTTPServer((HOST, 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, name="fake-processor", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 30.0) -> list[Delivery]:
        """The deliveries once `predicate` holds of them; AssertionError after `timeout` seconds."""
        with self._lock:
            if not self._lock.wait_for(lambda: predicate(self.deliveries), timeout):
                raise AssertionError(f"the fake processor saw {self.deliveries}")
            return list(self.deliveries)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
            self._lock.notify_all()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(min(length, MAX_BODY))
        processor_id = request.headers.get(PROCESSOR_HEADER, "")
        delivery_id = request.headers.get(signing.DELIVERY_HEADER, "")
        secret = self._secrets.get(processor_id) or (self.secret_for(processor_id) if processor_id else None)
        headers = {name: value for name, value in request.headers.items()}
        verified = secret is not None and signing.verify(secret, headers, body, now=time.time())
        try:
            message = json.loads(body) if verified else {}
        except ValueError:
            message, verified = {}, False
        request_id = str(message.get("request_id", ""))
        status = 401 if not verified else self.fail_with.get(processor_id, 202)
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()
        delivery = Delivery(processor_id, request_id, delivery_id, verified, status)
        if status != 202:
            self._record(delivery)
            return
        token = str(message.get("task_token", ""))
        threading.Thread(
            target=self._acknowledge, args=(delivery, token), name="fake-processor-ack", daemon=True
        ).start()

    def _acknowledge(self, delivery: Delivery, token: str) -> None:
        try:
            delivery.acknowledged = self.acknowledge(delivery.processor_id, delivery.request_id, token)
        except Exception:
            LOG.exception("The fake processor's acknowledgement failed")
            delivery.acknowledged = 0
        self._record(delivery)


def secret_reader(secretsmanager: Any, prefix: str) -> SecretFor:
    """`secret_for` reading the local stack's Secrets Manager (the value the privacy officer was given)."""
    from custody.declared import naming

    def read(processor_id: str) -> str | None:
        try:
            found = secretsmanager.get_secret_value(SecretId=naming.signing_secret_name(prefix, processor_id))
        except secretsmanager.exceptions.ResourceNotFoundException:
            return None
        return str(found["SecretString"])

    return read


def local_settings(authority: LocalCertificateAuthority) -> Settings:
    """The local stack's settings: loopback processor endpoints allowed, and this run's CA the only one trusted."""
    return Settings(processor_endpoints_allow_loopback=True, processor_endpoint_ca_file=str(authority.ca_file))


def http_acknowledger(api_url: str, cognito: Any, pool: UserPoolInfo) -> Acknowledge:
    """What a processor does once it has deleted: its own access token, then `POST /v1/processors/erasure-acks`.

    Its machine client is the one named after its processor id (`devstack.identity.processor_client`).
    """

    def acknowledge(processor_id: str, request_id: str, task_token: str) -> int:
        token = identity.processor_tokens(cognito, pool, processor_id, identity.http_endpoint(api_url)).access_token
        body = json.dumps({"processor_id": processor_id, "request_id": request_id, "task_token": task_token})
        request = urllib.request.Request(  # noqa: S310 - the local gateway
            f"{api_url}/v1/processors/erasure-acks",
            data=body.encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    return acknowledge
