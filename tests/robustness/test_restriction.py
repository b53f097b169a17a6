"""Restriction of processing (GDPR art. 18), for every route, generated from the catalog.

Every route declares what it does for a customer whose processing is restricted
(`catalog.Route.under_restriction`); a staff or sub-processor route must say, so a new one is covered
here without an edit. A world's customer (every purpose granted, the whole sample profile,
`tests/robustness/examples.py`) has each route's request prepared first, then restricts processing:

* a `refused` route answers 403 `processing_restricted` (never naming the ground) and writes nothing;
* a `permitted` route does what it does without a restriction — or, a customer's own request, is refused
  only for purposes that are not essential (403 `processing_restricted` naming them);
* lifted, every `refused` route is served again.

And the race (the pattern of tests/robustness/test_late_writes.py): every `refused` route's request is
held between its read and its first write after it while the customer restricts processing; let go,
each is refused and lands nothing — the write requires no restriction in its own transaction.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from custody.declared import catalog, datamap
from custody.declared.restriction import GROUNDS, UnderRestriction
from tests.integration.erasure.conftest import Reply
from tests.integration.staff.conftest import footprint
from tests.robustness.examples import Request, World, names_the_customer, request_for
from tests.robustness.figures import FIGURES
from tests.robustness.interleave import Held, after_a_read

pytestmark = pytest.mark.usefixtures("intercepted")

RESTRICTED: Final = "processing_restricted"
REFUSED: Final = [route for route in catalog.ROUTES if route.under_restriction is UnderRestriction.REFUSED]
# What a restricted customer's requests reach: theirs and staff's naming them, and the sub-processors' answers.
CONCERNED: Final = [
    route
    for route in catalog.ROUTES
    if route.under_restriction is not UnderRestriction.NO_CUSTOMER
    and route.key != "POST /v1/me/withdrawal"  # ends the world: tests/integration/staff/test_restriction.py
    and (names_the_customer(route) or route.audience is catalog.Audience.PROCESSOR)
]


def _order(routes: list[catalog.Route]) -> list[catalog.Route]:
    """Catalog order, with what narrows the customer's custody (a DELETE, an objection) and the
    restriction's own routes last."""

    def late(route: catalog.Route) -> bool:
        return route.method == "DELETE" or route.path.startswith(("/v1/me/objections/", "/v1/me/restriction"))

    return sorted(routes, key=late)


def restrict(world: World) -> None:
    """The world's customer restricts, on the ground the route's generated request names too (its first)."""
    reply = world.customer.call("POST", "/v1/me/restriction", {"ground": GROUNDS[0]})
    assert reply.status == 201, reply.text


def is_restriction_refusal(reply: Reply) -> bool:
    return reply.status == 403 and isinstance(reply.body, dict) and reply.body.get("error") == RESTRICTED


def says_no_ground(reply: Reply) -> bool:
    return not any(ground in reply.text for ground in GROUNDS)


def test_the_catalog_declares_staff_reads_grants_and_disclosures_refused() -> None:
    """Every staff route that acts on a customer declares a rule other than `no_customer`, and the routes
    that read, record or disclose a customer's data under a grant are refused."""
    for route in catalog.ROUTES:
        if route.audience is catalog.Audience.STAFF and names_the_customer(route):
            assert route.under_restriction is not UnderRestriction.NO_CUSTOMER, route.key
    refused = {route.key for route in REFUSED}
    assert {
        "POST /v1/staff/access-grants",
        "POST /v1/staff/access-grants/{grant_id}/approval",
        "GET /v1/staff/customers/{customer_id}",
        "POST /v1/staff/customers/{customer_id}/disclosures",
    } <= refused
    assert all(route.audience is not catalog.Audience.CUSTOMER for route in REFUSED)


def test_every_route_does_what_the_catalog_declares_for_a_restricted_customer(new_world: Any) -> None:
    world = new_world()
    routes = _order(CONCERNED)
    requests = {route.key: request_for(route, world) for route in routes}  # every value prepared first
    restrict(world)
    wrong: list[str] = []
    refused = served = 0
    for route in routes:
        request = requests[route.key]
        before = footprint(world.stack, world.subject_id)
        reply = request.send(world.stack)
        world.sent(request)
        if route.audience is not catalog.Audience.CUSTOMER and not says_no_ground(reply):
            wrong.append(f"{request}: named the customer's ground to staff: {reply.text[:200]}")
        if route.under_restriction is UnderRestriction.REFUSED:
            refused += 1
            if not is_restriction_refusal(reply):
                wrong.append(f"{request}: answered {reply.status} {reply.text[:200]} (must be 403 {RESTRICTED})")
            elif footprint(world.stack, world.subject_id) != before:
                wrong.append(f"{request}: refused, but wrote")
            continue
        served += 1
        if 200 <= reply.status < 300:
            continue
        purposes = (reply.body or {}).get("details", {}).get("purposes", []) if is_restriction_refusal(reply) else []
        essential = [name for name in purposes if datamap.is_essential(name)]
        if route.audience is not catalog.Audience.CUSTOMER or not purposes or essential:
            wrong.append(f"{request}: answered {reply.status} {reply.text[:200]} (permitted under a restriction)")
    FIGURES.add("restriction_routes_refused", refused)
    FIGURES.add("restriction_routes_served", served)
    assert refused == len(REFUSED)
    assert not wrong, "\n".join(wrong)


def test_lifted_every_refused_route_is_served_again(new_world: Any) -> None:
    world = new_world()
    requests = [request_for(route, world) for route in _order(REFUSED)]
    restrict(world)
    assert all(is_restriction_refusal(request.send(world.stack)) for request in requests)
    lifted = world.customer.call("DELETE", "/v1/me/restriction")
    assert lifted.status == 200, lifted.text
    answers = {str(request): request.send(world.stack) for request in requests}
    wrong = [f"{name}: {reply.status} {reply.text[:200]}" for name, reply in answers.items() if reply.status >= 300]
    assert not wrong, "\n".join(wrong)


def test_a_refused_write_in_flight_when_the_restriction_lands_does_not_land_after_it(new_world: Any) -> None:
    """Each `refused` route's request read the customer unrestricted and is held before its first write;
    the customer restricts; let go, each is refused and the customer's footprint does not move."""
    world = new_world()
    requests: list[Request] = [request_for(route, world) for route in _order(REFUSED)]
    held: list[tuple[Request, Held]] = []
    wrong: list[str] = []
    try:
        for request in requests:
            hold = Held(lambda request=request: request.send(world.stack), after_a_read)
            if hold.start():
                held.append((request, hold))
            else:
                wrong.append(f"{request}: never reached a write after a read ({hold.finish()})")
        restrict(world)
    finally:
        before = footprint(world.stack, world.subject_id)
        for request, hold in held:
            reply: Reply = hold.finish()
            if not is_restriction_refusal(reply):
                wrong.append(f"{request}: answered {reply.status} {reply.text[:200]} after the restriction")
    after = footprint(world.stack, world.subject_id)
    landed = sorted(place for place in set(after) | set(before) if after.get(place) != before.get(place))
    FIGURES.add("restriction_races_held", len(held))
    assert len(held) == len(REFUSED)
    assert not landed, f"writes landed after the restriction in {landed}"
    assert not wrong, "\n".join(wrong)
