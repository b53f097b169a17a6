"""The deployable units and the public API surface, declared once.

The CDK stack creates one Lambda per `FUNCTIONS` entry and one API Gateway method per
`ROUTES` entry; the embedded local stack provisions and serves the same lists; each
function's resolver implements the routes that name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Audience(StrEnum):
    CUSTOMER = "customer"  # customer user pool, ID token; the subject is the token's `sub`
    STAFF = "staff"  # staff user pool (MFA), ID token, group-restricted
    PROCESSOR = "processor"  # sub-processor machine client, access token
    PUBLIC = "public"  # no token: only lookups by an unguessable id


STAFF_GROUPS: tuple[str, ...] = ("support", "privacy_officer", "auditor")
METRICS_NAMESPACE = "CrmCustody"


@dataclass(frozen=True)
class Function:
    name: str  # folder under functions/, also the logical name of the Lambda
    description: str
    api: bool = True
    timeout_seconds: int = 29
    memory_mb: int = 512

    @property
    def handler(self) -> str:
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
    method: str
    path: str
    function: str
    audience: Audience
    groups: tuple[str, ...] = ()  # staff groups allowed; empty = any member of the audience


FUNCTIONS: tuple[Function, ...] = (
    Function("collect", "Consents, profile and documents: the only way personal data comes in."),
    Function("subject_access", "The access report, change requests and request status."),
    Function("erase", "Withdrawal: records the request and starts the erasure workflow."),
    Function("staff", "Need-to-know grants, staff views, interactions and reviews."),
    Function("processors", "Sub-processor registry, disclosures and erasure acknowledgements."),
    Function(
        "erasure_steps",
        "The erasure workflow's steps, invoked only by its state machine.",
        api=False,
        timeout_seconds=300,
        memory_mb=1024,
    ),
    Function(
        "retention",
        "Scheduled: erases customers inactive past the retention period; measures the erasure SLA.",
        api=False,
        timeout_seconds=300,
        memory_mb=512,
    ),
)

_C, _S, _P, _PUB = Audience.CUSTOMER, Audience.STAFF, Audience.PROCESSOR, Audience.PUBLIC
_OFFICER = ("privacy_officer",)

ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/me/consents", "collect", _C),
    Route("DELETE", "/v1/me/consents/{purpose}", "collect", _C),
    Route("PUT", "/v1/me/profile", "collect", _C),
    Route("PATCH", "/v1/me/profile", "collect", _C),
    Route("POST", "/v1/me/documents", "collect", _C),
    Route("GET", "/v1/me", "subject_access", _C),
    Route("GET", "/v1/me/documents/{document_id}", "subject_access", _C),
    Route("POST", "/v1/me/change-requests", "subject_access", _C),
    Route("GET", "/v1/me/change-requests", "subject_access", _C),
    Route("GET", "/v1/requests/{request_id}", "subject_access", _PUB),
    Route("POST", "/v1/me/withdrawal", "erase", _C),
    Route("POST", "/v1/staff/access-grants", "staff", _S, ("support", "privacy_officer")),
    Route("POST", "/v1/staff/access-grants/{grant_id}/approval", "staff", _S, _OFFICER),
    Route("GET", "/v1/staff/customers/{customer_id}", "staff", _S, ("support", "privacy_officer")),
    Route("POST", "/v1/staff/customers/{customer_id}/interactions", "staff", _S, ("support", "privacy_officer")),
    Route("GET", "/v1/staff/change-requests", "staff", _S, _OFFICER),
    Route("POST", "/v1/staff/change-requests/{change_request_id}/decision", "staff", _S, _OFFICER),
    Route("GET", "/v1/staff/processors", "processors", _S, ("privacy_officer", "auditor")),
    Route("PUT", "/v1/staff/processors/{processor_id}", "processors", _S, _OFFICER),
    Route("POST", "/v1/staff/customers/{customer_id}/disclosures", "processors", _S, ("support", "privacy_officer")),
    Route("POST", "/v1/processors/erasure-acks", "processors", _P),
)


def function(name: str) -> Function:
    for item in FUNCTIONS:
        if item.name == name:
            return item
    raise KeyError(name)


def routes_of(function_name: str) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.function == function_name)


def api_functions() -> tuple[Function, ...]:
    return tuple(item for item in FUNCTIONS if item.api)
