"""Every route x every identity: the allowed set is exactly what the design allows.

Expectations come from `catalog.ROUTES` (audience and groups) plus the need-to-know rule for
staff views of a customer (a grant for that customer), never from a hand-kept table:

* a public route is open to everyone (it answers by an unguessable id);
* any other route admits exactly the identities of its audience, and of those on a staff route
  only the members of one of its groups;
* the staff view of a customer (`GET /v1/staff/customers/{customer_id}`, and its interactions page
  by page) admits only staff holding an active grant for that customer;
* customer routes act on the caller's own data: another customer reaching the first one's
  document id is refused (404, as if it did not exist).

A refusal is a 401/403 (a `consent_required` 403 is a data rule, not an identity one) or, for
another customer's id, a 404. Each cell is counted.

The matrix runs twice: through the local gateway (API Gateway's authorizer in front, as users
meet the API), and at the Lambda boundary — each function invoked directly, through the Lambda
API, with the event API Gateway builds for the identity's token *as if its authorizer had let
it through* (`devstack.events`). The second run is what holds in AWS if a method's authorizer
were missing or wrong: the function alone must refuse exactly the same cells, and identities
no real token reaches the gateway with (a staff member in no group, a customer token of another
app client of the pool) are refused by the function on every route but the public one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from custody.declared import catalog
from custody.declared.catalog import Audience
from devstack import events, identity
from devstack.auth import render_claims
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, Customer, Reply, _subject_of
from tests.robustness.figures import FIGURES

IDENTITIES = (
    "anonymous",
    "customer",
    "other_customer",
    "support_without_grant",
    "support_with_grant",
    "privacy_officer",
    "auditor",
    "processor",
)
STAFF_GROUP = {
    "support_without_grant": "support",
    "support_with_grant": "support",
    "privacy_officer": "privacy_officer",
    "auditor": "auditor",
}
AUDIENCE = {
    "customer": Audience.CUSTOMER,
    "other_customer": Audience.CUSTOMER,
    "processor": Audience.PROCESSOR,
    **dict.fromkeys(STAFF_GROUP, Audience.STAFF),
}
# Identities only the Lambda boundary meets: API Gateway lets their tokens through (it checks
# neither app clients nor groups), and no route may admit them.
LAMBDA_ONLY = ("staff_in_no_group", "customer_of_another_app_client")
# The staff reads under a grant (the view, and its interactions page by page): only with one's own grant.
GRANTED_VIEWS = (
    ("GET", "/v1/staff/customers/{customer_id}"),
    ("GET", "/v1/staff/customers/{customer_id}/interactions"),
)


OWNED_OBJECTS = ("document_id", "export_id")


def expected_allowed(route: catalog.Route, who: str) -> bool:
    if route.audience is Audience.PUBLIC:
        return True
    if who in LAMBDA_ONLY or AUDIENCE.get(who) is not route.audience:
        return False
    if route.audience is Audience.STAFF and route.groups and STAFF_GROUP[who] not in route.groups:
        return False
    if (route.method, route.path) in GRANTED_VIEWS:
        return who == "support_with_grant"
    return not (_names_an_owned_object(route) and who == "other_customer")


def refused(reply: Reply, route: catalog.Route) -> bool:
    if reply.status == 401:
        return True
    if reply.status == 403:
        return not (isinstance(reply.body, dict) and reply.body.get("error") == "consent_required")
    return reply.status == 404 and _names_an_owned_object(route)


def _names_an_owned_object(route: catalog.Route) -> bool:
    """A path naming one customer's own object: to anyone else it does not exist (404)."""
    return any(f"{{{name}}}" in route.path for name in OWNED_OBJECTS)


class World:
    """The identities' tokens and the ids the routes' paths need."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.tokens: dict[str, str | None] = {"anonymous": None}
        for who in ("customer", "other_customer"):
            self.tokens[who] = stack.customer_token(f"{who}-{uuid.uuid4().hex[:8]}@example.com")
        for who, group in STAFF_GROUP.items():
            self.tokens[who] = stack.staff_token(f"{who}-{uuid.uuid4().hex[:8]}@staff.example", group)
        self.tokens["processor"] = stack.processor_token("matrix-processor")
        customer_token = self.tokens["customer"]
        assert customer_token is not None
        self.customer = Customer(stack, "", customer_token, _subject_of(customer_token))
        assert self.call("customer", "POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"})
        assert self.call("customer", "PUT", "/v1/me/profile", {"identity": PROFILE["identity"]}).status == 200
        upload = {"file_name": "a.txt", "content_type": "text/plain", "content_base64": "VmV4YnVyeQ=="}
        self.document_id = self.call("customer", "POST", "/v1/me/documents", upload).body["document_id"]
        self.export_id = self.call("customer", "POST", "/v1/me/exports").body["export_id"]
        grant = {
            "customer_id": self.customer.subject_id,
            "purpose": "crm_core",
            "ticket": "SUP-9",
            "categories": ["identity", "interactions"],
        }
        created = self.call("support_with_grant", "POST", "/v1/staff/access-grants", grant)
        assert created.status == 201, created.text
        assert created.body["status"] == "active", created.body
        self.grant_id = created.body["grant_id"]

    def claims(self, who: str) -> dict[str, str] | None:
        """The claims API Gateway passes for the identity's token, rendered as its authorizer renders them."""
        resources = self.stack.resources
        if who == "staff_in_no_group":
            return events.cognito_claims(resources, Audience.STAFF, str(uuid.uuid4()))
        if who == "customer_of_another_app_client":
            return events.cognito_claims(resources, Audience.CUSTOMER, self.customer.subject_id, aud="another-client")
        token = self.tokens[who]
        if token is None:
            return None
        return render_claims(identity.unverified_claims(token))

    def invoke(self, who: str, route: catalog.Route, body: Any = None) -> Reply:
        """The route's function invoked directly (Lambda API), with API Gateway's event for this identity."""
        return Reply.of_proxy(self.stack.invoke(route.method, self.path(route), self.claims(who), body))

    def call(self, who: str, method: str, path: str, body: Any = None) -> Reply:
        token = self.tokens[who]
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.stack.http.open(
            path, method=method, data=None if body is None else json.dumps(body), headers=headers
        )
        return Reply.of(response)

    def path(self, route: catalog.Route) -> str:
        values = {
            "purpose": "marketing",  # never granted: a withdrawal reaches the function and changes nothing
            "document_id": self.document_id,
            "export_id": self.export_id,
            "request_id": str(uuid.uuid4()),
            "grant_id": self.grant_id,
            "customer_id": self.customer.subject_id,
            "change_request_id": str(uuid.uuid4()),
            "processor_id": "matrix-processor",
            "store": "consents",
        }
        path = route.path.format(**values)
        if (route.method, route.path) in GRANTED_VIEWS:
            path += f"?grant_id={self.grant_id}"
        return path


def _ordered_routes() -> list[catalog.Route]:
    """The withdrawal last: it starts erasing whoever is allowed to call it."""
    return sorted(catalog.ROUTES, key=lambda route: route.path == "/v1/me/withdrawal")


@pytest.fixture
def world(local_stack: LocalStack) -> World:
    """A world per matrix: each ends by withdrawing its customer."""
    return World(local_stack)


def test_every_route_times_every_identity_is_exactly_what_the_design_allows(world: World) -> None:
    wrong: list[str] = []
    cells = 0
    allowed_cells = 0
    for route in _ordered_routes():
        for who in IDENTITIES:
            reply = world.call(who, route.method, world.path(route), _body_for(route))
            expected = expected_allowed(route, who)
            observed = not refused(reply, route)
            assert reply.status < 500, f"{route.method} {route.path} as {who}: {reply.status} {reply.text[:200]}"
            if observed != expected:
                wrong.append(f"{route.method} {route.path} as {who}: {reply.status} (expected allowed={expected})")
            cells += 1
            allowed_cells += int(expected)
    FIGURES.add("matrix_cells", cells)
    FIGURES.detail("matrix", {"allowed": allowed_cells, "refused": cells - allowed_cells})
    assert not wrong, "\n".join(wrong)
    assert cells == len(catalog.ROUTES) * len(IDENTITIES)


def _body_for(route: catalog.Route) -> Any:
    if route.method in ("GET", "DELETE") or route.path == "/v1/me/withdrawal":
        return None
    return {}


def test_the_matrix_at_the_lambda_boundary_is_the_same_without_the_gateway(world: World) -> None:
    """Every route x every identity (and two only a bypassed gateway would let through), each
    function invoked directly: the function decides every cell as the design says."""
    violations: list[str] = []
    cells = 0
    for route in _ordered_routes():
        for who in (*IDENTITIES, *LAMBDA_ONLY):
            reply = world.invoke(who, route, _body_for(route))
            assert reply.status < 500, f"{route.key} as {who}: {reply.status} {reply.text[:200]}"
            if reply.status >= 400:
                assert isinstance(reply.body, dict), reply.text
                assert {"error", "message", "details"} <= set(reply.body), reply.text
            if (not refused(reply, route)) != expected_allowed(route, who):
                violations.append(f"{route.key} as {who}: {reply.status} {reply.text[:120]}")
            cells += 1
    FIGURES.add("lambda_matrix_cells", cells)
    FIGURES.add("lambda_matrix_violations", len(violations))
    assert not violations, "\n".join(violations)
    assert cells == len(catalog.ROUTES) * (len(IDENTITIES) + len(LAMBDA_ONLY))


def test_the_matrix_covers_every_audience_and_group() -> None:
    assert set(STAFF_GROUP.values()) == set(catalog.STAFF_GROUPS)
    assert {AUDIENCE[who] for who in AUDIENCE} | {Audience.PUBLIC} == set(Audience)
