"""The deployable units and the public API surface, declared once.

The CDK stack creates one Lambda per `FUNCTIONS` entry and one API Gateway method per
`ROUTES` entry; the embedded local stack provisions and serves the same lists; each
function's resolver implements the routes that name it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from custody.declared import naming
from custody.declared.restriction import UnderRestriction


class Audience(StrEnum):
    """Who calls a route, and so which user pool's token it must present (none for `public`)."""

    CUSTOMER = "customer"  # customer user pool, ID token; the subject is the token's `sub`
    STAFF = "staff"  # staff user pool (MFA), access token with a scope per group, group-restricted
    PROCESSOR = "processor"  # sub-processor machine client, access token (client credentials)
    PUBLIC = "public"  # no token: only lookups by an unguessable id


class TokenUse(StrEnum):
    """A Cognito token's `token_use` claim."""

    ID = "id"
    ACCESS = "access"


STAFF_GROUPS: tuple[str, ...] = ("support", "privacy_officer", "auditor")
METRICS_NAMESPACE = "CrmCustody"

# The token each audience presents. API Gateway's Cognito authorizer takes an ID token on a
# method without OAuth scopes and an access token carrying one of the method's scopes on a
# method with them (API Gateway, `Method.authorizationScopes`); staff and sub-processor routes
# name scopes, so those callers present access tokens.
TOKEN_USE: Final[Mapping[Audience, TokenUse]] = MappingProxyType(
    {Audience.CUSTOMER: TokenUse.ID, Audience.STAFF: TokenUse.ACCESS, Audience.PROCESSOR: TokenUse.ACCESS}
)
# The OAuth resource server of an audience's user pool, whose scopes its routes require. On the
# staff pool there is one scope per staff group, put into access tokens at sign-in by the
# `staff_tokens` trigger; on the processor pool the scopes machine clients are allowed.
RESOURCE_SERVERS: Final[Mapping[Audience, str]] = MappingProxyType(
    {Audience.STAFF: "staff-api", Audience.PROCESSOR: "processor-api"}
)
ERASURE_ACK_SCOPE: Final = "erasure-acks.write"

# API Gateway's own refusals (gateway response type -> the API's error code): answered in the
# API's error shape `{"error", "message", "details"}`, by the deployed API and the local gateway.
GATEWAY_RESPONSES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "UNAUTHORIZED": "unauthenticated",
        "ACCESS_DENIED": "forbidden",
        "WAF_FILTERED": "forbidden",
        "THROTTLED": "throttled",
        "QUOTA_EXCEEDED": "throttled",
        "BAD_REQUEST_PARAMETERS": "malformed_request",
        "BAD_REQUEST_BODY": "malformed_request",
        "REQUEST_TOO_LARGE": "malformed_request",
        "MISSING_AUTHENTICATION_TOKEN": "not_found",
        "DEFAULT_4XX": "client_error",
        "DEFAULT_5XX": "internal_error",
    }
)


# A queue that invokes a function (`Function.queue`): receives before its dead-letter queue, and its
# visibility timeout per second of the function's timeout (Lambda asks for at least six). With the
# relay's delays (60 s doubling to an hour, full jitter: custody.subprocessors.relay.retry_delay)
# ten receives span up to about four hours.
QUEUE_MAX_RECEIVES: Final = 10
QUEUE_VISIBILITY_PER_TIMEOUT: Final = 6
# One message per invocation: a sub-processor whose endpoint hangs holds only its own request. In
# batches of ten, one slow endpoint timed the invocation out and sent its batch-mates, delivered
# or not, back to the queue until they were dead-lettered (found by a fresh break).
QUEUE_BATCH_SIZE: Final = 1
# The admission queue's receives before its dead-letter queue: a ticket that finds no slot is deferred
# 10 s doubling to 5 minutes (full jitter, custody.erasure.admission.defer_seconds), so 500 receives
# span about 40 hours — far longer than a burst of withdrawals or a sweep's batch takes to drain.
ADMISSION_MAX_RECEIVES: Final = 1_000  # SQS allows 1 to 1,000: about 8 hours of one-minute deferrals


@dataclass(frozen=True)
class Function:
    """One Lambda function of the stack: a folder under `functions/` with a `handler.lambda_handler`.

    `api` is false for functions no route names (the erasure steps, the staff pool's trigger, the
    retention sweep); `identity_trigger` names the audience whose user pool invokes it;
    `timeout_seconds` and `memory_mb` are its Lambda timeout and memory size; `queue` names the
    SQS queue (a `naming` logical name) whose event source mapping invokes it, with partial batch
    responses, `queue_batch_size` records at a time.
    """

    name: str  # folder under functions/, also the logical name of the Lambda
    description: str
    api: bool = True
    # A Cognito trigger of this pool (an audience's); it is told nothing of the stack (the
    # pool it serves cannot be named in its settings without a dependency cycle).
    identity_trigger: Audience | None = None
    timeout_seconds: int = 29
    memory_mb: int = 512
    queue: str | None = None
    queue_batch_size: int = QUEUE_BATCH_SIZE  # records per invocation from `queue` (1 to 10 for standard queues)

    @property
    def queue_visibility_seconds(self) -> int:
        """The visibility timeout of the queue that invokes this function (Lambda: at least six timeouts)."""
        return self.timeout_seconds * QUEUE_VISIBILITY_PER_TIMEOUT

    @property
    def handler(self) -> str:
        """The Lambda handler setting: `<name>.handler.lambda_handler`."""
        return f"{self.name}.handler.lambda_handler"

    @property
    def service(self) -> str:
        """The Powertools service name: logs, metrics and traces of this function carry it."""
        return f"custody-{self.name}"

    def powertools_environment(self) -> dict[str, str]:
        """Powertools' variables for this function, besides `Settings.to_env()` (CDK and devstack)."""
        return {
            "POWERTOOLS_SERVICE_NAME": self.service,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        }


@dataclass(frozen=True)
class Route:
    """One API method: who may call it is declared here and nowhere else.

    `groups`: the staff groups allowed (a staff route names at least one). `scopes`: the OAuth
    scopes (names on the audience's resource server) a sub-processor route requires. API
    Gateway checks the scopes (a staff route's scopes are its groups); the function checks the
    token's pool, type and client, the groups and the scopes again (`custody.access_control.authorization`).

    `restriction`: what the route does for a customer whose processing is restricted (GDPR art. 18,
    `custody.declared.restriction.UnderRestriction`); a staff or sub-processor route must say, so a new one
    is never open under a restriction by default; a customer route is the data subject's own request
    (`permitted`), a public one acts on no customer (`no_customer`).

    Raises `ValueError` for a route that would be open wider than its audience: a staff route
    without groups or with an unknown one, a sub-processor route without scopes, groups or
    scopes on a customer or public route; and for a staff or sub-processor route without a restriction rule.
    """

    method: str
    path: str
    function: str
    audience: Audience
    groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    restriction: UnderRestriction | None = None

    def __post_init__(self) -> None:
        if self.restriction is None and self.audience in (Audience.STAFF, Audience.PROCESSOR):
            raise ValueError(f"{self.method} {self.path}: a staff or sub-processor route declares its restriction rule")
        if self.audience is Audience.STAFF:
            if not self.groups or not set(self.groups) <= set(STAFF_GROUPS):
                raise ValueError(f"{self.method} {self.path}: a staff route names one or more of {STAFF_GROUPS}")
        elif self.groups:
            raise ValueError(f"{self.method} {self.path}: only staff routes name groups")
        if self.audience is Audience.PROCESSOR and not self.scopes:
            raise ValueError(f"{self.method} {self.path}: a sub-processor route names its OAuth scopes")
        if self.audience is not Audience.PROCESSOR and self.scopes:
            raise ValueError(f"{self.method} {self.path}: only sub-processor routes name scopes")

    @property
    def under_restriction(self) -> UnderRestriction:
        """What the route does while the customer's processing is restricted (GDPR art. 18)."""
        if self.restriction is not None:
            return self.restriction
        return UnderRestriction.NO_CUSTOMER if self.audience is Audience.PUBLIC else UnderRestriction.PERMITTED

    @property
    def key(self) -> str:
        """`METHOD /path/{template}`: how API Gateway's `httpMethod` and `resource` name the route."""
        return f"{self.method} {self.path}"

    @property
    def oauth_scopes(self) -> tuple[str, ...]:
        """The scope names (on the audience's resource server) API Gateway requires; empty for ID tokens."""
        return self.groups if self.audience is Audience.STAFF else self.scopes

    def gateway_scopes(self, prefix: str) -> tuple[str, ...]:
        """The full scope names (`<resource server>/<scope>`) of the deployed method's `AuthorizationScopes`."""
        return scope_names(self.audience, self.oauth_scopes, prefix) if self.oauth_scopes else ()


def scope_names(audience: Audience, scopes: Iterable[str], prefix: str) -> tuple[str, ...]:
    """Scopes as tokens and API Gateway name them: `<audience's resource server>/<scope>`."""
    server = naming.resource_server(prefix, RESOURCE_SERVERS[audience])
    return tuple(f"{server}/{scope}" for scope in scopes)


FUNCTIONS: tuple[Function, ...] = (
    Function("collect", "Consents, profile and documents: the only way personal data comes in."),
    Function("subject_access", "The access report, change requests and request status."),
    Function("erase", "Withdrawal: records the request and starts the erasure workflow."),
    Function("staff", "Need-to-know grants, staff views, interactions and reviews."),
    Function("processors", "Sub-processor registry, disclosures and erasure acknowledgements."),
    Function(
        "audit_review",
        "Read-only for auditors: the disposal register and each request's history, ledger, verification, certificate.",
    ),
    Function(
        "erasure_steps",
        "The erasure workflow's steps, invoked only by its state machine.",
        api=False,
        timeout_seconds=300,
        memory_mb=1024,
    ),
    Function(
        "staff_tokens",
        "Cognito pre-token-generation trigger of the staff pool: a scope per staff group in access tokens.",
        api=False,
        identity_trigger=Audience.STAFF,
        timeout_seconds=5,
        memory_mb=256,
    ),
    Function(
        "retention",
        "Scheduled: erases customers inactive past the retention period; measures the erasure SLA.",
        api=False,
        timeout_seconds=300,
        memory_mb=512,
    ),
    Function(
        naming.EXPORTER,
        "Writes a customer's portable export archive to the exports bucket; invoked asynchronously by subject_access.",
        api=False,
        timeout_seconds=900,
        memory_mb=1024,
    ),
    Function(
        naming.PROCESSOR_RELAY,
        "Delivers each deletion request on the processor queue to that processor's HTTPS endpoint, signed.",
        api=False,
        timeout_seconds=30,
        memory_mb=256,
        queue=naming.PROCESSOR_NOTIFICATIONS,
    ),
    Function(
        naming.ERASURE_ADMISSION,
        "Starts the erasures waiting on the admission queue as slots free; leaves the rest on the queue.",
        api=False,
        timeout_seconds=60,
        memory_mb=256,
        queue=naming.ERASURE_ADMISSIONS,
        # A ticket is a few small calls (a read, a conditional write, StartExecution): ten share an invocation.
        queue_batch_size=10,
    ),
    Function(
        naming.ERASURE_OUTCOMES,
        "Records how each erasure execution ended (EventBridge): frees its slot, records and alarms a failure.",
        api=False,
        timeout_seconds=30,
        memory_mb=256,
    ),
)


@dataclass(frozen=True)
class AsyncInvoke:
    """How Lambda treats a function's asynchronous (`InvocationType=Event`) invocations: its event invoke config.

    `retry_attempts`: retries after a function error, 0 to 2 (Lambda waits about one minute before the
    first and two before the second); `max_event_age_seconds`: how long an event may wait in Lambda's
    queue, 60 to 21600. Past either, the event goes to the function's dead-letter queue. Source: Lambda
    developer guide, "How Lambda handles errors and retries with asynchronous invocation" and
    `PutFunctionEventInvokeConfig`. Raises `ValueError` outside those bounds.
    """

    retry_attempts: int = 2
    max_event_age_seconds: int = 21_600

    def __post_init__(self) -> None:
        if not 0 <= self.retry_attempts <= 2 or not 60 <= self.max_event_age_seconds <= 21_600:
            raise ValueError("Lambda allows 0-2 retry attempts and an event age of 60-21600 seconds")


# The functions invoked with `InvocationType=Event` by another function, and their event invoke config
# (CDK: `AWS::Lambda::EventInvokeConfig`; the local stack: `PutFunctionEventInvokeConfig`). An export
# older than an hour is not retried: the customer has been told it failed or may start another.
ASYNC_INVOKE: Final[Mapping[str, AsyncInvoke]] = MappingProxyType(
    {naming.EXPORTER: AsyncInvoke(retry_attempts=2, max_event_age_seconds=3600)}
)

_C, _S, _P, _PUB = Audience.CUSTOMER, Audience.STAFF, Audience.PROCESSOR, Audience.PUBLIC
_OFFICER = ("privacy_officer",)
_SUPPORT = ("support", "privacy_officer")
_AUDITORS = ("auditor", "privacy_officer")
# Under a restriction (GDPR art. 18): staff may neither be granted nor use access, record interactions
# or disclose; reviewing a rectification is what art. 18(1)(a) restricts for, and an erasure's
# acknowledgement is erasure, which art. 18 never holds back; the registry names no customer.
_REFUSED, _PERMITTED, _NO_CUSTOMER = UnderRestriction.REFUSED, UnderRestriction.PERMITTED, UnderRestriction.NO_CUSTOMER

ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/me/consents", "collect", _C),
    Route("DELETE", "/v1/me/consents/{purpose}", "collect", _C),
    Route("POST", "/v1/me/objections/{purpose}", "collect", _C),
    Route("POST", "/v1/me/restriction", "collect", _C),
    Route("DELETE", "/v1/me/restriction", "collect", _C),
    Route("PUT", "/v1/me/profile", "collect", _C),
    Route("PATCH", "/v1/me/profile", "collect", _C),
    Route("POST", "/v1/me/documents", "collect", _C),
    Route("GET", "/v1/me", "subject_access", _C),
    Route("GET", "/v1/me/stores/{store}", "subject_access", _C),
    Route("GET", "/v1/me/documents/{document_id}", "subject_access", _C),
    Route("POST", "/v1/me/change-requests", "subject_access", _C),
    Route("GET", "/v1/me/change-requests", "subject_access", _C),
    Route("POST", "/v1/me/exports", "subject_access", _C),
    Route("GET", "/v1/me/exports", "subject_access", _C),
    Route("GET", "/v1/me/exports/{export_id}", "subject_access", _C),
    Route("GET", "/v1/requests/{request_id}", "subject_access", _PUB),
    Route("POST", "/v1/me/withdrawal", "erase", _C),
    Route("POST", "/v1/staff/access-grants", "staff", _S, _SUPPORT, restriction=_REFUSED),
    Route("POST", "/v1/staff/access-grants/{grant_id}/approval", "staff", _S, _OFFICER, restriction=_REFUSED),
    Route("GET", "/v1/staff/customers/{customer_id}", "staff", _S, _SUPPORT, restriction=_REFUSED),
    Route("GET", "/v1/staff/customers/{customer_id}/interactions", "staff", _S, _SUPPORT, restriction=_REFUSED),
    Route("POST", "/v1/staff/customers/{customer_id}/interactions", "staff", _S, _SUPPORT, restriction=_REFUSED),
    Route("GET", "/v1/staff/change-requests", "staff", _S, _OFFICER, restriction=_PERMITTED),
    Route(
        "POST", "/v1/staff/change-requests/{change_request_id}/decision", "staff", _S, _OFFICER, restriction=_PERMITTED
    ),
    Route("GET", "/v1/staff/requests", "staff", _S, ("privacy_officer", "auditor"), restriction=_NO_CUSTOMER),
    Route("POST", "/v1/staff/requests/{request_id}/extension", "staff", _S, _OFFICER, restriction=_PERMITTED),
    Route("GET", "/v1/staff/processors", "processors", _S, ("privacy_officer", "auditor"), restriction=_NO_CUSTOMER),
    Route("PUT", "/v1/staff/processors/{processor_id}", "processors", _S, _OFFICER, restriction=_NO_CUSTOMER),
    Route("POST", "/v1/staff/customers/{customer_id}/disclosures", "processors", _S, _SUPPORT, restriction=_REFUSED),
    Route("POST", "/v1/processors/erasure-acks", "processors", _P, scopes=(ERASURE_ACK_SCOPE,), restriction=_PERMITTED),
    Route("POST", "/v1/staff/customers/{customer_id}/invoices", "staff", _S, _SUPPORT, restriction=_REFUSED),
    Route("GET", "/v1/staff/customers/{customer_id}/invoices", "staff", _S, _SUPPORT, restriction=_REFUSED),
    # A legal hold pauses a customer's erasures (custody.declared.holds): privacy officers only. Keeping
    # data is what a restriction asks for, so a hold is placed and lifted on a restricted customer too.
    Route("PUT", "/v1/staff/customers/{customer_id}/legal-hold", "staff", _S, _OFFICER, restriction=_PERMITTED),
    Route("DELETE", "/v1/staff/customers/{customer_id}/legal-hold", "staff", _S, _OFFICER, restriction=_PERMITTED),
    # The auditor's reads (what `custody audit` and `custody retention register` show): ids, kinds, counts,
    # dates and digests, never personal data. The ledger is kept under a restriction and reading it is
    # no processing of the customer's data: the review of a restricted customer's request is permitted.
    Route("GET", "/v1/audit/disposals", "audit_review", _S, _AUDITORS, restriction=_NO_CUSTOMER),
    Route("GET", "/v1/audit/requests/{request_id}", "audit_review", _S, _AUDITORS, restriction=_PERMITTED),
)


def function(name: str) -> Function:
    """The declared function named `name`; raises `KeyError` when none is."""
    for item in FUNCTIONS:
        if item.name == name:
            return item
    raise KeyError(name)


def routes_of(function_name: str) -> tuple[Route, ...]:
    """The routes the function named `function_name` serves, in catalog order (empty for none)."""
    return tuple(route for route in ROUTES if route.function == function_name)


def route(method: str, resource: str) -> Route | None:
    """The route API Gateway names by `httpMethod` and `resource` (the path template), if declared."""
    return _BY_KEY.get(f"{method} {resource}")


_BY_KEY: Final[Mapping[str, Route]] = MappingProxyType({item.key: item for item in ROUTES})


def api_functions() -> tuple[Function, ...]:
    """The functions that serve API routes, in catalog order."""
    return tuple(item for item in FUNCTIONS if item.api)
