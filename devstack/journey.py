"""The customer journey, over HTTP, against a running local stack - and what an auditor sees after.

Each step is a small function of a shared `Journey` that makes real calls and checks what came
back; it never fakes a step. A route that answers 501 `not_implemented` means its capability
has not landed: the journey stops there, says which capability is missing, and that counts as
success (everything that exists held). Any other surprise is a failure. Later issues extend
the journey by filling in the steps below or adding new ones to `STEPS`.

Exit status (`Outcome.exit_status`): 0 when every step that ran held (the journey completed,
or stopped at a capability not built yet), 1 when a step failed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TextIO

from custody.declared import naming
from devstack import identity
from devstack.provision import client_factory
from devstack.residue import residue
from devstack.resources import StackInfo

POLICY_VERSION: Final = "2026-11"
ERASURE_TIMEOUT_SECONDS: Final = 120.0
AUDIT_ROWS: Final = 40  # of the timeline the journey prints; `custody audit show` prints them all
TERMINAL_STATUSES: Final = frozenset({"completed", "failed"})
# A sub-processor answers after the certificate: its confirmation is polled for, at most this often and long.
ACK_POLLS: Final = 600
ACK_POLL_SECONDS: Final = 0.05
EXPORT_TIMEOUT_SECONDS: Final = 60.0


class NotBuilt(Exception):
    """The capability a step needs has not landed (its route answers 501 `not_implemented`)."""

    def __init__(self, capability: str, reason: str = "answers 501 not_implemented") -> None:
        super().__init__(capability)
        self.capability = capability
        self.reason = reason


class StepFailed(Exception):
    """The stack answered something the journey cannot accept."""


class Status(StrEnum):
    DONE = "done"
    NOT_BUILT = "not built yet"
    FAILED = "FAILED"


@dataclass(frozen=True)
class StepResult:
    title: str
    status: Status
    detail: str = ""


@dataclass
class Outcome:
    results: list[StepResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(result.status is Status.FAILED for result in self.results)

    @property
    def stopped_at(self) -> StepResult | None:
        return next((result for result in self.results if result.status is Status.NOT_BUILT), None)

    @property
    def exit_status(self) -> int:
        return 1 if self.failed else 0


# --- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.raw) if self.raw else None
        except ValueError:
            return None

    @property
    def error_code(self) -> str | None:
        body = self.json()
        return str(body.get("error")) if isinstance(body, dict) and "error" in body else None

    def describe(self) -> str:
        """Status and error code only: a body may hold personal data."""
        body = self.json()
        code = self.error_code or (body.get("message") if isinstance(body, dict) else None)
        return f"HTTP {self.status}" + (f" ({code})" if code else "")


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the local gateway
            self.base_url + path, data=data, method=method, headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return Reply(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers.items()), error.read())


# --- the journey -----------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


@dataclass
class Journey:
    info: StackInfo
    api: Api
    out: TextIO = sys.stdout
    interactive: bool = False
    email: str = field(default_factory=lambda: f"journey-{uuid.uuid4().hex[:8]}@example.com")
    token: str = ""
    subject_id: str = ""
    profile_etag: str = ""
    request_id: str = ""
    processor_id: str = ""

    def aws(self, service: str) -> Any:
        return client_factory(self.info.region, self.info.aws_endpoint_url)(service)

    def say(self, line: str = "") -> None:
        print(f"      {line}" if line else "", file=self.out, flush=True)

    def expect(self, reply: Reply, *statuses: int, capability: str) -> Reply:
        if reply.status == 501 and reply.error_code == "not_implemented":
            raise NotBuilt(capability)
        if reply.status not in statuses:
            raise StepFailed(f"expected HTTP {'/'.join(map(str, statuses))}, got {reply.describe()}")
        return reply

    def submitted_values(self) -> dict[str, str]:
        """What the customer sent that must never appear outside the stores (labels, values)."""
        return {"e-mail": self.email, "legal name": LEGAL_NAME, "phone": PROFILE["contact"]["phone"]}

    def residue(self) -> dict[str, int]:
        """What the stack still holds of the subject: every data-map store and derived record (`devstack.residue`)."""
        return residue(self.aws, self.info.resources, self.subject_id)

    def identity_exists(self) -> bool:
        cognito = self.aws("cognito-idp")
        pool = self.info.resources.user_pools[naming.CUSTOMER_POOL]
        try:
            cognito.admin_get_user(UserPoolId=pool.pool_id, Username=self.email)
        except cognito.exceptions.UserNotFoundException:
            return False
        return True

    def log_lines(self, function: str) -> list[str]:
        """What the deployed function wrote to its CloudWatch Logs group, oldest first."""
        name = self.info.resources.functions[function].name
        logs = self.aws("logs")
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [str(event["message"]) for event in events]

    def function_invocations(self, function: str) -> int:
        """How many times the deployed function ran: its CloudWatch log streams (one per invocation)."""
        name = self.info.resources.functions[function].name
        logs = self.aws("logs")
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return 0
        return len(streams)


def sign_up(journey: Journey) -> str:
    pool = journey.info.resources.user_pools[naming.CUSTOMER_POOL]
    tokens = identity.customer_tokens(journey.aws("cognito-idp"), pool, journey.email)
    claims = identity.unverified_claims(tokens.id_token)
    if claims.get("token_use") != "id" or claims.get("aud") != pool.client_id:
        raise StepFailed("the customer pool issued an unexpected token")
    journey.token, journey.subject_id = tokens.id_token, str(claims["sub"])
    journey.say(f"{journey.email} signed up; e-mail verified; ID token issued by the customer pool")
    journey.say(f"subject id (the token's sub): {journey.subject_id}")
    return "customer signed in"


def refuses_no_token(journey: Journey) -> str:
    reply = journey.api.call("GET", "/v1/me")
    if reply.status != 401 or reply.json().get("error") != "unauthenticated":
        raise StepFailed(f"a call without a token got {reply.describe()}, not 401 Unauthorized")
    journey.say("GET /v1/me without a token -> 401 unauthenticated (API Gateway's answer; the function never ran)")
    return "refused"


def refuses_forged_tokens(journey: Journey) -> str:
    header, _, signature = journey.token.split(".")
    claims = identity.unverified_claims(journey.token)
    forged = f"{header}.{_b64({**claims, 'sub': str(uuid.uuid4())})}.{signature}"
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    for label, token in (("another subject, same signature", forged), ("alg: none", unsigned)):
        reply = journey.api.call("GET", "/v1/me", token=token)
        if reply.status != 401:
            raise StepFailed(f"a forged token ({label}) got {reply.describe()}, not 401")
        journey.say(f"forged token ({label}) -> 401")
    return "refused"


def routes_to_the_right_function(journey: Journey) -> str:
    before = {name: journey.function_invocations(name) for name in journey.info.resources.functions}
    reply = journey.api.call("GET", "/v1/me", token=journey.token)
    after = {name: journey.function_invocations(name) for name in journey.info.resources.functions}
    ran = sorted(name for name in after if after[name] != before[name])
    if ran != ["subject_access"]:
        raise StepFailed(f"GET /v1/me ran {ran or 'no function'}, expected subject_access")
    journey.say(f"GET /v1/me with the token -> {reply.describe()}, served by subject_access (its log shows the run)")
    if reply.status == 200:
        report = reply.json()
        if report.get("subject_id") != journey.subject_id:
            raise StepFailed("the access report is not the token's subject")
        journey.say("the function saw the verified claims: the report is for the token's subject")
    else:
        journey.expect(reply, 200, capability="the access report (GET /v1/me)")
    return "routed"


def consent(journey: Journey) -> str:
    for purpose in ("crm_core", "marketing"):
        reply = journey.api.call(
            "POST",
            "/v1/me/consents",
            token=journey.token,
            body={"purpose": purpose, "policy_version": POLICY_VERSION, "channel": "web"},
        )
        journey.expect(reply, 201, capability="consent (POST /v1/me/consents)")
        granted = reply.json().get("granted", [])
        if purpose not in granted:
            raise StepFailed(f"{purpose} is not among the granted purposes after granting it")
        journey.say(f"granted {purpose} (policy {POLICY_VERSION}); now granted: {', '.join(granted)}")
    return "crm_core and marketing granted"


LEGAL_NAME: Final = "Ada Example"  # a made-up person: the journey's data is synthetic
PROFILE: Final[dict[str, Any]] = {
    "identity": {"legal_name": LEGAL_NAME, "preferred_name": "Ada"},
    "contact": {
        "phone": "+14155550100",
        # A US address names its state: Google's address data requires it (issue 17).
        "address": {
            "line1": "1 Demo Street",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
    },
    "preferences": {"channels": ["email"], "language": "en"},
}


def submit_profile(journey: Journey) -> str:
    reply = journey.api.call("PUT", "/v1/me/profile", token=journey.token, body=PROFILE)
    journey.expect(reply, 200, 201, capability="the profile (PUT /v1/me/profile)")
    journey.profile_etag = reply.headers.get("ETag", "")
    if not journey.profile_etag:
        raise StepFailed("the profile came back without an ETag")
    categories = sorted(reply.json().get("categories", {}))
    journey.say(f"stored categories {', '.join(categories)}, encrypted per field; version {journey.profile_etag}")
    return "profile stored"


def view_profile(journey: Journey) -> str:
    reply = journey.expect(
        journey.api.call("GET", "/v1/me", token=journey.token), 200, capability="the access report (GET /v1/me)"
    )
    report = reply.json()
    stores = report.get("stores", {})
    held = ", ".join(f"{name} {page.get('count')}" for name, page in sorted(stores.items()))
    journey.say(f"access report for {report.get('subject_id')}: each store's first page and count: {held}")
    stored = json.dumps(stores.get("profiles", {}), sort_keys=True)
    if LEGAL_NAME not in stored:
        raise StepFailed("the access report does not show the profile that was submitted")
    journey.say("the submitted profile reads back decrypted, as the customer sent it")
    consents = journey.expect(
        journey.api.call("GET", "/v1/me/stores/consents", token=journey.token),
        200,
        capability="a store page by page (GET /v1/me/stores/{store})",
    ).json()
    if len(consents.get("history", [])) != consents.get("count") or consents.get("next_cursor") is not None:
        raise StepFailed("the consent ledger's page does not hold what its count says")
    journey.say(f"GET /v1/me/stores/consents: {consents['count']} events on one page, no cursor to follow")
    return "report read"


RECTIFIED_PHONE: Final = "+14155550199"


def rectify(journey: Journey) -> str:
    change = {"contact": {"phone": RECTIFIED_PHONE}}
    stale = journey.api.call("PATCH", "/v1/me/profile", token=journey.token, body=change, headers={"If-Match": '"0"'})
    journey.expect(stale, 412, capability="rectification (PATCH /v1/me/profile)")
    journey.say("a change against a stale version -> 412, nothing written")
    reply = journey.api.call(
        "PATCH", "/v1/me/profile", token=journey.token, body=change, headers={"If-Match": journey.profile_etag}
    )
    journey.expect(reply, 200, capability="rectification (PATCH /v1/me/profile)")
    new_etag = reply.headers.get("ETag", "")
    if not new_etag or new_etag == journey.profile_etag:
        raise StepFailed("the rectified profile did not get a new version")
    journey.say(f"phone rectified with If-Match {journey.profile_etag} -> version {new_etag}")
    journey.profile_etag = new_etag
    return "rectified"


def staff_need_to_know(journey: Journey) -> str:
    """A support agent sees only what a crm_core grant allows; the customer sees the read in their log."""
    pool = journey.info.resources.user_pools[naming.STAFF_POOL]
    agent = identity.staff_tokens(journey.aws("cognito-idp"), pool, "agent@staff.example", "support").access_token
    body = {
        "customer_id": journey.subject_id,
        "purpose": "crm_core",
        "ticket": "SUP-4711",
        "categories": ["contact"],
        "duration_minutes": 30,
    }
    capability = "need-to-know staff access (POST /v1/staff/access-grants)"
    granted = journey.expect(
        journey.api.call("POST", "/v1/staff/access-grants", token=agent, body=body), 201, capability=capability
    )
    grant_id = str(granted.json()["grant_id"])
    journey.say(f"support agent granted contact for crm_core, ticket SUP-4711, 30 minutes: grant {grant_id}")
    path = f"/v1/staff/customers/{journey.subject_id}?grant_id={grant_id}"
    view = journey.expect(journey.api.call("GET", path, token=agent), 200, capability=capability).json()
    if LEGAL_NAME in json.dumps(view):
        raise StepFailed("the staff view shows a category the grant does not cover")
    journey.say(f"staff view: shown {', '.join(view['shown'])}; masked {', '.join(view['masked'])}")
    journey.say(f"identity as the agent sees it: {json.dumps(view['categories'].get('identity'))}")
    report = journey.expect(
        journey.api.call("GET", "/v1/me", token=journey.token), 200, capability="the access report (GET /v1/me)"
    ).json()
    log = report["stores"].get("staff_access", {}).get("items", [])
    reads = [item for item in log if item.get("kind") == "read"]
    if not reads:
        raise StepFailed("the customer's access log does not show the staff read")
    last = reads[-1]
    journey.say(
        f"the customer's access log: {last['at']} staff {last['staff_id'][:8]}... read "
        f"{', '.join(last['categories'])} for {last['purpose']} (ticket {last['ticket']})"
    )
    return "need-to-know view shown and logged"


def restrict_and_lift(journey: Journey) -> str:
    """The customer restricts processing (GDPR art. 18): staff are refused, told only that it exists; then lifts it."""
    pool = journey.info.resources.user_pools[naming.STAFF_POOL]
    agent = identity.staff_tokens(journey.aws("cognito-idp"), pool, "agent@staff.example", "support").access_token
    capability = "restriction of processing (POST/DELETE /v1/me/restriction)"
    restricted = journey.api.call(
        "POST", "/v1/me/restriction", token=journey.token, body={"ground": "accuracy_contested"}
    )
    journey.expect(restricted, 201, capability=capability)
    journey.say("restricted on the ground accuracy_contested (art. 18(1)(a))")
    body = {
        "customer_id": journey.subject_id,
        "purpose": "crm_core",
        "ticket": "SUP-4712",
        "categories": ["contact"],
        "duration_minutes": 30,
    }
    refused = journey.api.call("POST", "/v1/staff/access-grants", token=agent, body=body)
    if refused.status != 403 or refused.error_code != "processing_restricted":
        raise StepFailed(f"a staff grant was not refused while restricted: {refused.describe()}")
    if b"accuracy_contested" in refused.raw:
        raise StepFailed("the refusal tells staff why the customer restricted processing")
    journey.say(f"a support agent's grant: {refused.status} {refused.error_code} (the ground is not shown)")
    journey.expect(journey.api.call("DELETE", "/v1/me/restriction", token=journey.token), 200, capability=capability)
    journey.expect(
        journey.api.call("POST", "/v1/staff/access-grants", token=agent, body=body),
        201,
        capability="need-to-know staff access (POST /v1/staff/access-grants)",
    )
    journey.say("lifted: the same grant is given again")
    return "restricted, staff refused, lifted"


def register_and_extend(journey: Journey) -> str:
    """A privacy officer reads the requests register and extends one request once, for a declared reason."""
    pool = journey.info.resources.user_pools[naming.STAFF_POOL]
    officer = identity.staff_tokens(
        journey.aws("cognito-idp"), pool, "officer@staff.example", "privacy_officer"
    ).access_token
    asked = {"field": "legal_name", "value": "Ada King", "reason": "My name as my passport writes it"}
    journey.expect(
        journey.api.call("POST", "/v1/me/change-requests", token=journey.token, body=asked),
        201,
        capability="change requests (POST /v1/me/change-requests)",
    )
    journey.say("the customer asks to change their verified legal name: a rectification request, due under the law")
    capability = "the requests register (GET /v1/staff/requests)"
    register = journey.expect(journey.api.call("GET", "/v1/staff/requests", token=officer), 200, capability=capability)
    mine = [entry for entry in register.json()["requests"] if entry.get("subject_id") == journey.subject_id]
    if not mine:
        raise StepFailed("the register lists none of the customer's open requests")
    for entry in mine:
        journey.say(
            f"{entry['kind']:<14} received {entry['received_at'][:10]}  due {entry['due_date']}  {entry['status']}"
        )
    target = mine[0]
    path = f"/v1/staff/requests/{target['request_id']}/extension"
    extended = journey.expect(
        journey.api.call("POST", path, token=officer, body={"reason": "complexity"}),
        200,
        capability="request extension (POST /v1/staff/requests/{request_id}/extension)",
    ).json()
    journey.say(f"extended once for complexity: due {target['due_date']} -> {extended['due_date']}")
    again = journey.api.call("POST", path, token=officer, body={"reason": "complexity"})
    if again.status != 409:
        raise StepFailed(f"a second extension was not refused: {again.describe()}")
    journey.say(f"a second extension: {again.status} {again.error_code}")
    return f"{len(mine)} open requests listed, one extended"


NEIGHBOUR_NAME: Final = "Bea Neighbour"  # another made-up customer, whose data must never reach Ada's export


def export(journey: Journey) -> str:
    """The portable export: requested, written asynchronously, downloaded by its presigned URL and opened."""
    pool = journey.info.resources.user_pools[naming.CUSTOMER_POOL]
    neighbour_email = f"neighbour-{uuid.uuid4().hex[:8]}@example.com"
    neighbour = identity.customer_tokens(journey.aws("cognito-idp"), pool, neighbour_email).id_token
    for method, path, body in (
        ("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": POLICY_VERSION}),
        ("PUT", "/v1/me/profile", {"identity": {"legal_name": NEIGHBOUR_NAME}}),
    ):
        journey.expect(journey.api.call(method, path, token=neighbour, body=body), 200, 201, capability="a neighbour")
    started = journey.expect(
        journey.api.call("POST", "/v1/me/exports", token=journey.token), 202, capability="exports (POST /v1/me/exports)"
    ).json()
    journey.say(f"export {started['export_id']} {started['status']}; the exporter runs asynchronously")
    deadline = time.monotonic() + EXPORT_TIMEOUT_SECONDS
    view = started
    while view["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise StepFailed(f"the export was still {view['status']} after {EXPORT_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.2)
        view = journey.expect(
            journey.api.call("GET", started["status_url"], token=journey.token), 200, capability="export status"
        ).json()
    if view["status"] != "ready" or not view.get("download"):
        raise StepFailed(f"the export ended {view['status']} ({view.get('failure')})")
    with urllib.request.urlopen(view["download"]["url"], timeout=60) as response:  # noqa: S310 - the local S3
        content = response.read()
    archive = zipfile.ZipFile(io.BytesIO(content))
    manifest = json.loads(archive.read("manifest.json"))
    if hashlib.sha256(archive.read("manifest.json")).hexdigest() != view["manifest_sha256"]:
        raise StepFailed("the manifest's digest differs from the one the export status gives")
    for entry in manifest["files"]:
        if hashlib.sha256(archive.read(entry["path"])).hexdigest() != entry["sha256"]:
            raise StepFailed(f"{entry['path']} differs from its digest in the manifest")
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for label, value in (("e-mail", journey.email), ("legal name", LEGAL_NAME), ("rectified phone", RECTIFIED_PHONE)):
        if value.encode() not in everything:
            raise StepFailed(f"the export does not hold the customer's {label}")
    if NEIGHBOUR_NAME.encode() in everything:
        raise StepFailed("the export holds another customer's data")
    counts = ", ".join(f"{name} {count}" for name, count in sorted(manifest["counts"].items()) if count)
    journey.say(f"downloaded {len(content):,} bytes by a presigned URL (valid until {view['download']['expires_at']})")
    journey.say(f"{len(manifest['files'])} files, every SHA-256 checks; holds {counts}; nothing of another customer")
    return "export downloaded and checked"


def share_with_processor(journey: Journey) -> str:
    """A privacy officer registers a mailing house with an HTTPS endpoint; its signing secret is issued once."""
    if not journey.info.resources.processor_endpoint:
        raise NotBuilt("a sub-processor endpoint in the local stack", "is not running")
    cognito = journey.aws("cognito-idp")
    journey.processor_id = f"mailhouse-{uuid.uuid4().hex[:6]}"
    machine = identity.processor_tokens(
        cognito,
        journey.info.resources.user_pools[naming.PROCESSOR_POOL],
        journey.processor_id,
        identity.http_endpoint(journey.info.api_url),
    ).access_token
    staff_pool = journey.info.resources.user_pools[naming.STAFF_POOL]
    officer = identity.staff_tokens(cognito, staff_pool, "officer@staff.example", "privacy_officer").access_token
    endpoint = journey.info.resources.processor_endpoint
    terms = {
        "name": "Mailing House (fake, on loopback)",
        "version": "2026-12-a",
        "signed_on": "2026-12-01",
        "purposes": ["crm_core"],
        "categories": ["contact"],
        "commitments": {
            "purpose_limitation": True,
            "confidentiality": True,
            "deletion_days": 30,
            "onward_transfer_requires_approval": True,
        },
        "deletion_channel": {"kind": "https", "endpoint": endpoint, "acknowledgement_timeout_seconds": 3600},
        "principal": _claims(machine)["sub"],
    }
    capability = "the sub-processor registry (PUT /v1/staff/processors/{processor_id})"
    registered = journey.expect(
        journey.api.call("PUT", f"/v1/staff/processors/{journey.processor_id}", token=officer, body=terms),
        200,
        capability=capability,
    ).json()
    if not registered.get("signing_secret"):
        raise StepFailed("an https agreement was registered without issuing its signing secret")
    journey.say(f"privacy officer registered {journey.processor_id}: deletion requests to {endpoint}")
    journey.say(
        f"its signing secret ({len(registered['signing_secret'])} characters, in Secrets Manager) is shown once, "
        "to hand over to the processor"
    )
    sharing = f"sharing:{journey.processor_id}"
    journey.expect(
        journey.api.call(
            "POST",
            "/v1/me/consents",
            token=journey.token,
            body={"purpose": sharing, "policy_version": POLICY_VERSION, "channel": "web"},
        ),
        201,
        capability="consent (POST /v1/me/consents)",
    )
    agent = identity.staff_tokens(cognito, staff_pool, "agent@staff.example", "support").access_token
    journey.expect(
        journey.api.call(
            "POST",
            f"/v1/staff/customers/{journey.subject_id}/disclosures",
            token=agent,
            body={"processor_id": journey.processor_id, "categories": ["contact"]},
        ),
        201,
        capability="disclosures (POST /v1/staff/customers/{customer_id}/disclosures)",
    )
    journey.say(f"the customer granted {sharing}; support disclosed their contact to it")
    return f"contact shared with {journey.processor_id}"


def processor_acknowledged(journey: Journey) -> str:
    """After the certificate, the relay POSTed the signed deletion request over HTTPS; the processor acknowledged.

    The customer's erasure never waits on a sub-processor: it was certified first, and the processor's
    confirmation completes the request's record afterwards, so this step polls for it (bounded).
    """
    outcomes: dict[str, str] = {}
    certificate: dict[str, int] = {}
    deliveries: list[str] = []
    for _ in range(ACK_POLLS):
        request = journey.aws("dynamodb").get_item(
            TableName=journey.info.resources.tables["requests"],
            Key={"request_id": {"S": journey.request_id}},
            ConsistentRead=True,
        )["Item"]
        outcomes = {name: value["S"] for name, value in request.get("sub_processors", {}).get("M", {}).items()}
        certificate = {
            name: int(value["N"])
            for name, value in request.get("certificate", {})
            .get("M", {})
            .get("sub_processors", {})
            .get("M", {})
            .items()
        }
        deliveries = [line for line in journey.log_lines(naming.PROCESSOR_RELAY) if journey.processor_id in line]
        if outcomes.get(journey.processor_id) == "confirmed":
            break
        time.sleep(ACK_POLL_SECONDS)
    delivered = [json.loads(line) for line in deliveries if "Deletion request delivered" in line]
    if not delivered:
        raise StepFailed("the relay's log shows no delivery to the processor")
    first = delivered[0]
    journey.say(
        f"relay: POST {journey.info.resources.processor_endpoint} (TLS, HMAC-SHA256 signed) -> HTTP {first['status']} "
        f"on attempt {first['attempt']} (delivery {str(first['delivery'])[:8]}…)"
    )
    journey.say(f"{journey.processor_id} verified the signature and called POST /v1/processors/erasure-acks")
    if outcomes.get(journey.processor_id) != "confirmed":
        raise StepFailed(f"the processor is {outcomes.get(journey.processor_id)!r} on the request, not confirmed")
    journey.say(f"certificate (issued first) counts {certificate}; request record now: sub_processors {outcomes}")
    if any(value in "\n".join(deliveries) for value in journey.submitted_values().values()):
        raise StepFailed("the relay's log holds personal values")
    journey.say("the relay's log holds ids, statuses and attempts only")
    return f"{journey.processor_id} notified over HTTPS after the certificate, and confirmed"


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def withdraw(journey: Journey) -> str:
    reply = journey.api.call("POST", "/v1/me/withdrawal", token=journey.token, body={})
    journey.expect(reply, 202, capability="withdrawal (POST /v1/me/withdrawal, the erase function)")
    journey.request_id = str(reply.json().get("request_id", ""))
    if not journey.request_id:
        raise StepFailed("the withdrawal was accepted without a request id")
    journey.say(f"withdrawal accepted: erasure request {journey.request_id}")
    return "erasure requested"


def follow_erasure(journey: Journey) -> str:
    deadline = time.monotonic() + ERASURE_TIMEOUT_SECONDS
    last = ""
    while True:
        reply = journey.api.call("GET", f"/v1/requests/{journey.request_id}")
        journey.expect(reply, 200, capability="request status (GET /v1/requests/{request_id})")
        state = reply.json()
        done, total = int(state.get("steps_done", 0)), int(state.get("steps_total", 0)) or 1
        line = f"[{'#' * done}{'.' * max(total - done, 0)}] {done}/{total} {state.get('status')}"
        if line != last:
            journey.say(line)
            last = line
        if state.get("status") in TERMINAL_STATUSES:
            break
        if time.monotonic() > deadline:
            raise StepFailed(f"the erasure did not finish within {ERASURE_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.5)
    if state.get("status") != "completed":
        raise StepFailed("the erasure workflow failed (see its execution history)")
    journey.say(f"certificate digest {state.get('certificate_digest')}")
    residue = journey.residue()
    if residue:
        raise StepFailed(f"data remains after the erasure: {residue}")
    journey.say("asked every store directly (DynamoDB partitions, every S3 version): nothing remains")
    if journey.identity_exists():
        raise StepFailed("the customer's Cognito user still exists")
    journey.say("the customer's identity is gone from the customer pool")
    return "erasure completed and verified"


def notices_sent(journey: Journey) -> str:
    """What SES was asked to send the customer: each notice's template and data (ids, dates, digests, labels).

    Read from moto's own record of the messages it accepted (its SES backend's `sent_messages`, which
    the local gateway serves at `/_ses/sent-messages`): after the erasure, the one place the address is
    still held. Printed masked.
    """
    messages = [message for message in _sent_messages(journey) if journey.email in _recipients(message)]
    if not messages:
        raise StepFailed("SES was asked to send the customer no notice")
    prefix = naming.notice_template_name(journey.info.resources.environment["CUSTODY_RESOURCE_PREFIX"], "")
    for message in messages:
        data = json.loads(str(message.get("template_data") or "{}"))
        journey.say(f"to {_masked(journey.email)}  {str(message.get('template', '')).removeprefix(prefix)}")
        journey.say(f"    {json.dumps(data, sort_keys=True)}")
    kinds = [str(message.get("template", "")).removeprefix(prefix) for message in messages]
    if "erasure-completion" not in kinds:
        raise StepFailed("no erasure completion notice was sent")
    last = json.loads(str(messages[-1].get("template_data") or "{}"))
    state = journey.api.call("GET", f"/v1/requests/{journey.request_id}").json()
    if kinds[-1] != "erasure-completion" or last.get("certificate_digest") != state.get("certificate_digest"):
        raise StepFailed("the last notice is not the erasure's completion with its certificate's digest")
    journey.say(f"the request records them: {json.dumps(state.get('notices'), sort_keys=True)}")
    journey.say(f"received {state.get('received_at')}, due {state.get('due_date')} ({state.get('jurisdiction')})")
    return f"{len(messages)} notices: {', '.join(kinds)}"


def _sent_messages(journey: Journey) -> list[dict[str, Any]]:
    reply = journey.api.call("GET", "/_ses/sent-messages")  # the local gateway's, from moto's SES backend
    if reply.status != 200:
        raise StepFailed(f"the local gateway did not list SES's sent messages: {reply.describe()}")
    return list(reply.json().get("messages", []))


def _recipients(message: dict[str, Any]) -> list[str]:
    return [str(address) for address in message.get("to") or []]


def _masked(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def auditor_view(journey: Journey) -> str:
    arn = journey.info.resources.state_machines[naming.ERASURE_STATE_MACHINE].replace(":stateMachine:", ":execution:")
    sfn = journey.aws("stepfunctions")
    execution_arn = f"{arn}:{journey.request_id}"
    described = sfn.describe_execution(executionArn=execution_arn)
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    journey.say(f"execution {journey.request_id}: {described['status']}, {len(events)} history events")
    journey.say(f"states: {' -> '.join(_distinct_states(events))}")
    history = json.dumps(events, default=str)
    leaked = [label for label, value in journey.submitted_values().items() if value in history]
    if leaked:
        raise StepFailed(f"the execution history holds personal values: {', '.join(leaked)}")
    journey.say("the history holds ids, counts and statuses only: none of the submitted values")
    from custody.audit.review.reader import AuditorReader  # the auditor's own tools: devstack's one use of ops
    from custody.audit.review.verification import verify
    from custody.declared.settings import Settings
    from ops.auditor.report import render_text

    settings = Settings.from_env(journey.info.resources.environment)
    clients = client_factory(journey.info.region, journey.info.aws_endpoint_url)
    chain = AuditorReader(settings, clients).chain(journey.request_id)
    verification = verify(chain)
    if not chain.events:
        raise StepFailed("the audit ledger holds no events for the request")
    journey.say(f"custody audit show {journey.request_id} --local --brief (abbreviated):")
    for line in render_text(chain, verification, brief=True, limit=AUDIT_ROWS).splitlines():
        journey.say(f"  {line}")
    if not verification.ok:
        raise StepFailed(f"the audit chain does not verify: {'; '.join(map(str, verification.findings))}")
    ledger_text = json.dumps([body for versions in chain.events.values() for body in map(_text, versions)])
    leaked = [label for label, value in journey.submitted_values().items() if value in ledger_text]
    if leaked:
        raise StepFailed(f"the audit ledger holds personal values: {', '.join(leaked)}")
    journey.say("the ledger holds ids, names and counts only: none of the submitted values")
    return f"{verification.events} ledger events verified; certificate {str(verification.certificate_digest)[:12]}…"


def _text(version: Any) -> str:
    return bytes(version.body).decode()


def _distinct_states(events: list[dict[str, Any]]) -> list[str]:
    """The states entered, in order, each Map iteration's states counted once."""
    seen: list[str] = []
    for event in events:
        name = event.get("stateEnteredEventDetails", {}).get("name")
        if name and name not in seen:
            seen.append(name)
    return seen


Step = Callable[[Journey], str]

STEPS: Final[tuple[tuple[str, Step], ...]] = (
    ("Sign up (customer pool, verified e-mail)", sign_up),
    ("The gateway refuses a call without a token", refuses_no_token),
    ("The gateway refuses forged tokens", refuses_forged_tokens),
    ("An authenticated call reaches the right function", routes_to_the_right_function),
    ("Consent", consent),
    ("Submit a profile", submit_profile),
    ("View it (the access report)", view_profile),
    ("Rectify it", rectify),
    ("A staff member's need-to-know view, in the customer's access log", staff_need_to_know),
    ("Export everything (portable archive, presigned download)", export),
    ("Share the contact with a sub-processor (HTTPS endpoint, signing secret)", share_with_processor),
    ("Restrict processing (art. 18): staff refused, then lifted", restrict_and_lift),
    ("The requests register: due dates, one extension by a privacy officer", register_and_extend),
    ("Withdraw", withdraw),
    ("Follow the erasure", follow_erasure),
    ("The sub-processor is notified over HTTPS and acknowledges", processor_acknowledged),
    ("The notices the customer was sent (SES templates; the last one after the identity was deleted)", notices_sent),
    ("What an auditor sees", auditor_view),
)


def run(info: StackInfo, *, interactive: bool = False, out: TextIO = sys.stdout) -> Outcome:
    journey = Journey(info, Api(info.api_url), out=out, interactive=interactive)
    outcome = Outcome()
    print(f"Customer journey against {info.api_url}\n", file=out, flush=True)
    for number, (title, step) in enumerate(STEPS, start=1):
        print(f"[{number:>2}/{len(STEPS)}] {title}", file=out, flush=True)
        try:
            summary = step(journey)
        except NotBuilt as missing:
            outcome.results.append(StepResult(title, Status.NOT_BUILT, missing.capability))
            journey.say(f"-> not built yet: {missing.capability} {missing.reason}.")
            break
        except StepFailed as failure:
            outcome.results.append(StepResult(title, Status.FAILED, str(failure)))
            journey.say(f"-> FAILED: {failure}")
            break
        outcome.results.append(StepResult(title, Status.DONE, summary))
        journey.say(f"-> ok: {summary}")
        if interactive:
            time.sleep(0.3)
    print(file=out)
    print(summarize(outcome, len(STEPS)), file=out, flush=True)
    return outcome


def summarize(outcome: Outcome, total: int) -> str:
    done = sum(result.status is Status.DONE for result in outcome.results)
    if outcome.failed:
        failed = next(result for result in outcome.results if result.status is Status.FAILED)
        return f"Journey FAILED at '{failed.title}': {failed.detail}"
    stopped = outcome.stopped_at
    if stopped is not None:
        return (
            f"Journey verified {done} of {total} steps, then stopped at '{stopped.title}': "
            f"{stopped.detail} has not landed yet. Everything that exists held."
        )
    return f"Journey completed: all {total} steps verified."
