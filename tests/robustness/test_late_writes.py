"""Erasure is final, for every route that writes (issue 16): a request held between its read and its
write while the customer's full erasure runs to its certificate, then let go, lands nothing.

Generated from the catalog: every route of `catalog.ROUTES` is a case, with a request built from
the OpenAPI document (`tests/robustness/examples.py`) against a new customer who granted every
purpose and holds the whole sample profile. A route without a request the stack accepts fails
here: it cannot be held, so it must get one.

For each route:

1. the request is sent once, undisturbed, on its own customer: it must succeed, and every AWS
   write it makes is recorded (`tests/robustness/interleave.py`). A route that writes nothing
   (`GET /v1/requests/{id}`...) is counted and has nothing to hold;
2. on another new customer, the request is sent on its own thread and parked just before its
   first write made after a read (in `make soak`: before each of its writes in turn) — whatever it
   read, it read while the customer was active;
3. the customer withdraws and the erasure runs to its certificate (the request `completed`);
4. the request is let go. It must be refused (403, 404, 409 or 410 in the API's error shape) or
   succeed without a trace: nothing of the customer anywhere the data map names, in the subject
   record beyond its tombstone, or in the idempotency table; and the certificate still true
   (`tests/robustness/finality.py`).

Figures: `late_write_routes`, `late_write_routes_read_only`, `late_writes_tried`,
`late_writes_landed` (must be 0), and the routes that landed something in `late_writes_landed_by_route`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from custody.declared import catalog
from tests.integration.erasure.conftest import Reply
from tests.robustness.examples import Cast, World, request_for
from tests.robustness.figures import FIGURES, soak
from tests.robustness.finality import (
    Erasure,
    added,
    certificate_problems,
    erase_to_certificate,
    footprint,
    settle_subject,
    summary,
)
from tests.robustness.interleave import Call, Held, ParkRule, Watch, after_a_read, watched

REFUSALS: Final = frozenset({403, 404, 409, 410})
# What each route did in this session (route key -> outcome), for the summary at the end.
OUTCOMES: Final[dict[str, str]] = {}


pytestmark = pytest.mark.usefixtures("intercepted")


@dataclass
class Trial:
    """One request held past one full erasure: what the erasure left before the request went on,
    and what the request landed after."""

    route: catalog.Route
    point: str
    parked_before: Call | None
    reply: Reply | None = None
    erasure: Erasure | None = None
    left_by_erasure: dict[str, Any] = field(default_factory=dict)
    untrue_before: list[str] = field(default_factory=list)
    landed: dict[str, Any] = field(default_factory=dict)
    untrue_after: list[str] = field(default_factory=list)
    executions: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    @property
    def landed_anything(self) -> bool:
        return bool(self.landed or self.untrue_after)

    @property
    def answered_well(self) -> bool:
        reply = self.reply
        if reply is None:
            return False
        if 200 <= reply.status < 300:
            return True
        shaped = isinstance(reply.body, dict) and {"error", "message", "details"} <= set(reply.body)
        return reply.status in REFUSALS and shaped

    def describe(self) -> str:
        reply = self.reply
        answer = f"{reply.status} {reply.text[:160]}" if reply is not None else "no answer"
        lines = [f"{self.route.key}, held before {self.parked_before} ({self.point}):", f"    answered {answer}"]
        if self.erasure is not None:
            lines.append(f"    erasure {self.erasure.request_id}: request {self.erasure.status}")
        if self.left_by_erasure:
            lines.append(f"    the erasure itself left: {json.dumps(self.left_by_erasure, sort_keys=True)}")
        lines += [f"    certificate untrue before the release: {problem}" for problem in self.untrue_before]
        if self.landed:
            lines.append(f"    the late request landed: {json.dumps(self.landed, sort_keys=True)}")
        lines += [f"    certificate made untrue: {problem}" for problem in self.untrue_after]
        if self.executions:
            lines.append(f"    executions of the customer that did not succeed: {self.executions}")
        if self.parked_before in self.calls:
            after = [str(call) for call in self.calls[self.calls.index(self.parked_before) :] if call.writes]
            lines.append("    its writes after the hold: " + (", ".join(after) or "none"))
        return "\n".join(lines)


def baseline(cast: Cast, route: catalog.Route) -> list[Call]:
    """The route's request, undisturbed, on a new customer: it must succeed; returns what it wrote."""
    world = World(cast)
    request = request_for(route, world)
    with watched(Watch()) as watch:
        reply = request.send(cast.stack)
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    assert 200 <= reply.status < 300, (
        f"{request}: the request generated from the OpenAPI document is refused ({reply.status} "
        f"{reply.text[:300]}): give the route a valid request in tests/robustness/examples.py (OVERRIDES), "
        "so that the late-write suite can hold it"
    )
    return watch.writes


def trial(cast: Cast, route: catalog.Route, park_at: int | ParkRule, point: str) -> Trial:
    """Hold the route's request at `park_at` while its customer's full erasure runs to its certificate."""
    stack = cast.stack
    world = World(cast)
    request = request_for(route, world)
    held = Held(lambda: request.send(stack), park_at)
    if not held.start():
        return Trial(route, point, None, held.finish(), calls=held.calls)
    found = Trial(route, point, held.watch.parked_before)
    try:
        found.erasure = erase_to_certificate(stack, world.customer, world.acknowledge)
        # The idempotency record the held request put before its hold is its own, in flight: judged after.
        before = footprint(stack, world.subject_id)
        found.left_by_erasure = summary(before)
        found.untrue_before = certificate_problems(stack, found.erasure.request_id)
    finally:
        found.reply = held.finish()
    found.calls = list(held.calls)
    found.executions = settle_subject(stack, world.subject_id, world.acknowledge)
    found.landed = summary(added(footprint(stack, world.subject_id, held.calls), before))
    after = certificate_problems(stack, found.erasure.request_id)
    found.untrue_after = [problem for problem in after if problem not in found.untrue_before]
    return found


def hold_points(writes: list[Call]) -> list[tuple[int | ParkRule, str]]:
    """Where to park: the first write after a read; in `make soak`, before every write in turn."""
    if soak():
        return [(index, f"write {index} of {len(writes)}") for index in range(1, len(writes) + 1)]
    return [(after_a_read, "its first write after a read")]


@pytest.mark.parametrize("route", catalog.ROUTES, ids=lambda route: route.key)
def test_a_request_held_past_a_full_erasure_lands_nothing(cast: Cast, route: catalog.Route) -> None:
    writes = baseline(cast, route)
    if not writes:
        OUTCOMES[route.key] = "read only"
        FIGURES.add("late_write_routes_read_only")
        return
    FIGURES.add("late_write_routes")
    trials = [trial(cast, route, park_at, point) for park_at, point in hold_points(writes)]
    held = [item for item in trials if item.parked_before is not None]
    landed = [item for item in held if item.landed_anything]
    erasure_left = [item for item in held if item.left_by_erasure or item.untrue_before]
    badly = [item for item in held if not item.landed_anything and not item.answered_well]
    unfinished = [item for item in held if item.erasure is None or item.erasure.status != "completed"]
    FIGURES.add("late_writes_tried", len(held))
    FIGURES.add("late_writes_landed", len(landed))
    if landed:
        FIGURES.detail("late_writes_landed_by_route", {route.key: len(landed)})
    OUTCOMES[route.key] = f"{len(writes)} writes, held {len(held)}, landed {len(landed)}"
    for item in held:
        print(item.describe())
    assert held, f"{route.key}: the request wrote undisturbed but never reached its write when held"
    assert not unfinished, "the erasure did not complete:\n" + "\n".join(item.describe() for item in unfinished)
    assert not landed, "late writes landed:\n" + "\n".join(item.describe() for item in landed)
    assert not badly, "answered neither a refusal nor a success:\n" + "\n".join(item.describe() for item in badly)
    assert not erasure_left, "the erasure itself left data (before the held request went on):\n" + "\n".join(
        item.describe() for item in erasure_left
    )


def test_every_writing_route_of_the_catalog_was_held(request: pytest.FixtureRequest) -> None:
    """The count, printed; and when the whole suite ran, every catalog route was classified."""
    ran = {item.callspec.id for item in request.session.items if hasattr(item, "callspec")}
    writing = sorted(key for key, outcome in OUTCOMES.items() if outcome != "read only")
    print(f"late-write suite: {len(writing)} writing routes held, of {len(catalog.ROUTES)} in the catalog")
    for key in sorted(OUTCOMES):
        print(f"  {key}: {OUTCOMES[key]}")
    if {route.key for route in catalog.ROUTES} <= ran:
        missing = sorted({route.key for route in catalog.ROUTES} - set(OUTCOMES))
        assert not missing, f"routes that were not classified (their case failed before): {missing}"
