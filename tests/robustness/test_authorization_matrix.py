"""Every route x every identity: the allowed set is exactly what the design allows.

Expectations come from `catalog.ROUTES` (audience and groups) plus the need-to-know rule for
staff views of a customer (a grant for that customer), never from a hand-kept table:

* a public route is open to everyone (it answers by an unguessable id);
* any other route admits exactly the identities of its audience, and of those on a staff route
  only the members of one of its groups;
* the staff view of a customer (`GET /v1/staff/customers/{customer_id}`) admits only staff
  holding an active grant for that customer;
* customer routes act on the caller's own data: another customer reaching the first one's
  document id is refused (404, as if it did not exist).

A refusal is a 401/403 (a `consent_required` 403 is a data rule, not an identity one) or, for
another customer's id, a 404. Each cell is counted.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from custody import catalog, naming
from custody.catalog import Audience
from devstack import identity
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
GRANTED_VIEW = ("GET", "/v1/staff/customers/{customer_id}")


def expected_allowed(route: catalog.Route, who: str) -> bool:
    if route.audience is Audience.PUBLIC:
        return True
    if AUDIENCE.get(who) is not route.audience:
        return False
    if route.audience is Audience.STAFF and route.groups and STAFF_GROUP[who] not in route.groups:
        return False
    if (route.method, route.path) == GRANTED_VIEW:
        return who == "support_with_grant"
    return not ("{document_id}" in route.path and who == "other_customer")


def refused(reply: Reply, route: catalog.Route) -> bool:
    if reply.status == 401:
        return True
    if reply.status == 403:
        return not (isinstance(reply.body, dict) and reply.body.get("error") == "consent_required")
    return reply.status == 404 and "{document_id}" in route.path


class World:
    """The identities' tokens and the ids the routes' paths need."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.tokens: dict[str, str | None] = {"anonymous": None}
        for who in ("customer", "other_customer"):
            self.tokens[who] = stack.customer_token(f"{who}-{uuid.uuid4().hex[:8]}@example.com")
        for who, group in STAFF_GROUP.items():
            self.tokens[who] = stack.staff_token(f"{who}-{uuid.uuid4().hex[:8]}@staff.example", group)
        pool = stack.resources.user_pools[naming.PROCESSOR_POOL]
        self.tokens["processor"] = identity.processor_tokens(
            stack.clients("cognito-idp"), pool, "matrix-processor"
        ).access_token
        customer_token = self.tokens["customer"]
        assert customer_token is not None
        self.customer = Customer(stack, "", customer_token, _subject_of(customer_token))
        assert self.call("customer", "POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"})
        assert self.call("customer", "PUT", "/v1/me/profile", {"identity": PROFILE["identity"]}).status == 200
        upload = {"file_name": "a.txt", "content_type": "text/plain", "content_base64": "VmV4YnVyeQ=="}
        self.document_id = self.call("customer", "POST", "/v1/me/documents", upload).body["document_id"]
        grant = {
            "customer_id": self.customer.subject_id,
            "purpose": "crm_core",
            "ticket": "SUP-9",
            "categories": ["identity"],
        }
        created = self.call("support_with_grant", "POST", "/v1/staff/access-grants", grant)
        assert created.status == 201, created.text
        assert created.body["status"] == "active", created.body
        self.grant_id = created.body["grant_id"]

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
            "request_id": str(uuid.uuid4()),
            "grant_id": self.grant_id,
            "customer_id": self.customer.subject_id,
            "change_request_id": str(uuid.uuid4()),
            "processor_id": "matrix-processor",
        }
        path = route.path.format(**values)
        if (route.method, route.path) == GRANTED_VIEW:
            path += f"?grant_id={self.grant_id}"
        return path


def _ordered_routes() -> list[catalog.Route]:
    """The withdrawal last: it starts erasing whoever is allowed to call it."""
    return sorted(catalog.ROUTES, key=lambda route: route.path == "/v1/me/withdrawal")


@pytest.fixture(scope="module")
def world(local_stack: LocalStack) -> World:
    return World(local_stack)


def test_every_route_times_every_identity_is_exactly_what_the_design_allows(world: World) -> None:
    wrong: list[str] = []
    cells = 0
    allowed_cells = 0
    for route in _ordered_routes():
        for who in IDENTITIES:
            body: Any = None if route.method in ("GET", "DELETE") else {}
            if route.path == "/v1/me/withdrawal":
                body = None
            reply = world.call(who, route.method, world.path(route), body)
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


def test_the_matrix_covers_every_audience_and_group() -> None:
    assert set(STAFF_GROUP.values()) == set(catalog.STAFF_GROUPS)
    assert {AUDIENCE[who] for who in AUDIENCE} | {Audience.PUBLIC} == set(Audience)
