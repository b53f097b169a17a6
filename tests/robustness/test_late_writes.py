"""Erasure is final, for every route that writes (issue 16): a request held between its read and its
write while the customer's full erasure runs to its certificate, then let go, lands nothing.

Generated from the catalog: every route of `catalog.ROUTES` is a case, its request built from the
OpenAPI document against a customer who granted every purpose and holds the whole sample profile
(`tests/robustness/examples.py`). A route without a request the stack accepts fails here: it
cannot be held, so it must get one. A new route is covered without an edit.

* Which routes write: every route's request is built against one new customer, then each is sent
  in turn, undisturbed (the consent withdrawal and the withdrawal last), and every AWS write it
  makes is recorded (`tests/robustness/interleave.py`). Each must succeed. A route whose request
  writes nothing (`GET /v1/requests/{id}`...) is counted and has nothing to hold; a GET that writes
  a read log is a writing route.
* A round: on another new customer, every writing route's request is sent on its own thread and
  parked before its first write made after a read (in `make soak`, one round per write index:
  before each route's first write, its second...). Whatever each read, it read while the customer
  was active. The customer withdraws and the erasure runs to its certificate (the request
  `completed`, the workflow ended). Then the requests are let go one at a time, in catalog order,
  each to its end and to the end of any erasure it started.
* Each must be refused (403, 404, 409 or 410 in the API's error shape) or succeed without a trace:
  what it landed is what the customer's footprint (every store of the data map, the subject record
  beyond its tombstone, the idempotency records the request wrote: `tests/robustness/finality.py`)
  gained during its own release, and the certificate must stay true after it. What the erasure
  itself left, before any release, is reported apart, and fails too.

Figures: `late_write_routes`, `late_write_routes_read_only`, `late_writes_tried`,
`late_writes_landed` (must be 0), and the routes that landed something in `late_writes_landed_by_route`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import pytest

from custody.declared import catalog, clock
from custody.stores.subjects import UPLOADS_IN_FLIGHT
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Reply
from tests.robustness.examples import Cast, Request, World, request_for
from tests.robustness.figures import FIGURES, soak
from tests.robustness.finality import (
    Erasure,
    Footprint,
    added,
    certificate_problems,
    erase_to_certificate,
    footprint,
    refused,
    settle_subject,
    summary,
)
from tests.robustness.interleave import Call, Held, ParkRule, Watch, after_a_read, watched

pytestmark = pytest.mark.usefixtures("intercepted")

ROUTES: Final = {route.key: route for route in catalog.ROUTES}


# Customer routes that narrow what may be done with the customer's data (besides a DELETE): a restriction
# (staff are refused while it lasts) and an objection (its erasure would refuse the others for want of consent).
NARROWING: Final = ("/v1/me/restriction", "/v1/me/objections/")


def send_order(routes: list[catalog.Route]) -> list[catalog.Route]:
    """Catalog order, with what ends or narrows the customer's custody last: a restriction, an objection, a
    consent withdrawal, the restriction's lifting (in catalog order among them), then the withdrawal."""

    def narrows(route: catalog.Route) -> bool:
        return route.method == "DELETE" or route.path.startswith(NARROWING)

    return sorted(routes, key=lambda route: (route.path == "/v1/me/withdrawal", narrows(route)))


@dataclass
class Baseline:
    """Each route's request sent undisturbed: its answer and the AWS writes it made."""

    replies: dict[str, Reply] = field(default_factory=dict)
    writes: dict[str, list[Call]] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)

    def writing(self) -> list[catalog.Route]:
        return [ROUTES[key] for key, writes in self.writes.items() if writes and self.accepted(key)]

    def accepted(self, key: str) -> bool:
        return 200 <= self.replies[key].status < 300


@pytest.fixture(scope="module")
def baseline(cast: Cast) -> Baseline:
    world = World(cast)
    found = Baseline()
    routes = send_order(list(catalog.ROUTES))
    found.requests = {route.key: request_for(route, world) for route in routes}  # every value prepared first
    for route in routes:
        found.requests[route.key].ready()
        with watched(Watch()) as watch:
            found.replies[route.key] = found.requests[route.key].send(cast.stack)
        world.sent(found.requests[route.key])
        found.writes[route.key] = watch.writes
        settle_subject(cast.stack, world.subject_id, world.acknowledge, waiting=world.awaiting())
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    return found


@dataclass
class Trial:
    """One request held past a full erasure, and what it landed when let go."""

    route: catalog.Route
    point: str
    parked_before: Call | None = None
    reply: Reply | None = None
    landed: dict[str, Any] = field(default_factory=dict)
    untrue: list[str] = field(default_factory=list)
    executions: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    ended: bool = False  # ended where it was parked (an upload in flight), never let go

    @property
    def landed_anything(self) -> bool:
        return bool(self.landed or self.untrue)

    @property
    def answered_well(self) -> bool:
        reply = self.reply
        if self.ended:
            return True
        if reply is None:
            return False
        if 200 <= reply.status < 300:
            return True
        return refused(reply)

    def describe(self) -> str:
        reply = self.reply
        answer = f"{reply.status} {reply.text[:160]}" if reply is not None else "no answer"
        if self.ended:
            answer = "nothing: ended there, as Lambda ends it at its timeout (an upload in flight)"
        lines = [f"{self.route.key}, held before {self.parked_before} ({self.point}):", f"    answered {answer}"]
        if self.landed:
            lines.append(f"    it landed: {json.dumps(self.landed, sort_keys=True)}")
        lines += [f"    it made the certificate untrue: {problem}" for problem in self.untrue]
        if self.executions:
            lines.append(f"    executions of the customer that did not succeed: {self.executions}")
        if self.parked_before in self.calls:
            after = [str(call) for call in self.calls[self.calls.index(self.parked_before) :] if call.writes]
            lines.append("    its writes after the hold: " + (", ".join(after) or "none"))
        return "\n".join(lines)


@dataclass
class Round:
    """Every writing route held at one point past one full erasure of one customer."""

    point: str
    trials: dict[str, Trial]
    erasure: Erasure | None = None
    left_by_erasure: dict[str, Any] = field(default_factory=dict)
    untrue_before: list[str] = field(default_factory=list)

    def describe_erasure(self) -> str:
        erasure = self.erasure
        lines = [f"round {self.point}: erasure {erasure.request_id if erasure else '-'}, request "]
        lines[0] += f"{erasure.status}, execution {erasure.execution_status}" if erasure else "never started"
        if self.left_by_erasure:
            lines.append(f"    the erasure itself left: {json.dumps(self.left_by_erasure, sort_keys=True)}")
        lines += [f"    its certificate, before any release: {problem}" for problem in self.untrue_before]
        return "\n".join(lines)


def run_round(cast: Cast, routes: list[catalog.Route], park_at: int | ParkRule, point: str) -> Round:
    """Park every route's request at `park_at`, erase the customer to the certificate, let each go in turn."""
    stack = cast.stack
    world = World(cast)
    requests = [request_for(route, world) for route in routes]  # every value prepared before any is held
    found = Round(point, {route.key: Trial(route, point) for route in routes})
    held: list[tuple[Trial, Held]] = []
    try:
        for request in requests:
            request.ready()  # after the requests before it parked: they read the world without it
            trial, hold = found.trials[request.route.key], Held(lambda request=request: request.send(stack), park_at)
            in_flight = uploads_in_flight(stack, world.subject_id)
            if hold.start():
                trial.parked_before = hold.watch.parked_before
                if uploads_in_flight(stack, world.subject_id) - in_flight:
                    # Parked between an upload's intent and its commit: the erasure's Verify waits past
                    # the upload's deadline, and Lambda ends the invocation before it. So does the test.
                    hold.kill()
                    trial.ended, trial.calls = True, list(hold.calls)
                    continue
                held.append((trial, hold))
            else:
                trial.reply, trial.calls = hold.finish(), hold.calls
                world.sent(request)
        with past_the_uploads_in_flight(stack, world.subject_id):
            found.erasure = erase_to_certificate(stack, world.customer, world.acknowledge, until_ended=True)
        before: Footprint = footprint(stack, world.subject_id)
        found.left_by_erasure = summary(before)
        found.untrue_before = certificate_problems(stack, found.erasure.request_id)
    finally:
        known = list(found.untrue_before)
        for trial, hold in held:  # each let go alone, in catalog order
            trial.reply = hold.finish()
            world.sent(requests[[request.route.key for request in requests].index(trial.route.key)])
            trial.calls = list(hold.calls)
            if found.erasure is None:
                continue
            trial.executions = settle_subject(stack, world.subject_id, world.acknowledge, waiting=world.awaiting())
            after = footprint(stack, world.subject_id)
            trial.landed = summary(added(after, before))
            untrue = certificate_problems(stack, found.erasure.request_id)
            trial.untrue = [problem for problem in untrue if problem not in known]
            known += trial.untrue
            before = {place: before.get(place, set()) | after.get(place, set()) for place in {*before, *after}}
        settle_subject(stack, world.subject_id, world.acknowledge)
    return found


def uploads_in_flight(stack: LocalStack, subject_id: str) -> set[str]:
    """The subject record's uploads between their intent and their commit (`<deadline>#<document id>`)."""
    record = stack.clients("dynamodb").get_item(
        TableName=stack.resources.tables["subjects"], Key={"subject_id": {"S": subject_id}}, ConsistentRead=True
    )
    return set(record.get("Item", {}).get(UPLOADS_IN_FLIGHT, {}).get("SS", []))


@contextmanager
def past_the_uploads_in_flight(stack: LocalStack, subject_id: str) -> Iterator[None]:
    """While the block runs, the one clock (`custody.declared.clock.now`) is past the deadline of every
    upload in flight on the subject (a request parked between an upload's intent and its commit).

    The erasure's Verify waits, by design, until no upload may land any more: in AWS its retries
    (seconds apart) outlast the deadline, and Lambda ends the upload's invocation by then (the round
    ends it). The local stack does not sleep between retries, so time travels instead, as far as the
    last deadline.
    """
    entries = uploads_in_flight(stack, subject_id)
    if not entries:
        yield
        return
    last = max(clock.parse(entry.split("#", 1)[0]) for entry in entries)
    ahead = last - clock.now() + timedelta(seconds=1)
    real = clock.now
    clock.now = lambda: real() + ahead  # type: ignore[assignment]
    try:
        yield
    finally:
        clock.now = real  # type: ignore[assignment]


def hold_points(baseline: Baseline) -> list[tuple[int | ParkRule, str]]:
    """Where to park: before the first write after a read; in `make soak`, before every write index in turn."""
    if soak():
        most = max((len(baseline.writes[route.key]) for route in baseline.writing()), default=0)
        return [(index, f"write {index}") for index in range(1, most + 1)]
    return [(after_a_read, "its first write after a read")]


@pytest.fixture(scope="module")
def rounds(cast: Cast, baseline: Baseline) -> list[Round]:
    routes = send_order(baseline.writing())
    found = []
    for park_at, point in hold_points(baseline):
        reaches = [
            route for route in routes if not isinstance(park_at, int) or len(baseline.writes[route.key]) >= park_at
        ]
        found.append(run_round(cast, reaches, park_at, point))
    for item in found:
        held = [trial for trial in item.trials.values() if trial.parked_before is not None]
        FIGURES.add("late_writes_tried", len(held))
        landed = [trial for trial in held if trial.landed_anything]
        FIGURES.add("late_writes_landed", len(landed))
        if landed:
            FIGURES.detail("late_writes_landed_by_route", {trial.route.key: 1 for trial in landed})
    FIGURES.add("late_write_routes", len(routes))
    FIGURES.add("late_write_routes_read_only", len(catalog.ROUTES) - len(routes))
    print(f"\nlate-write suite: {len(routes)} writing routes held, of {len(catalog.ROUTES)} in the catalog")
    return found


@pytest.mark.parametrize("route", catalog.ROUTES, ids=lambda route: route.key)
def test_a_request_held_past_a_full_erasure_lands_nothing(
    baseline: Baseline, rounds: list[Round], route: catalog.Route
) -> None:
    reply = baseline.replies[route.key]
    assert baseline.accepted(route.key), (
        f"{baseline.requests[route.key]}: the request generated from the OpenAPI document is refused "
        f"({reply.status} {reply.text[:300]}): give the route a valid request in tests/robustness/examples.py "
        "(OVERRIDES), so that the late-write suite can hold it"
    )
    if not baseline.writes[route.key]:
        return  # read only: nothing to hold
    trials = [item.trials[route.key] for item in rounds if route.key in item.trials]
    for trial in trials:
        print(trial.describe())
    held = [trial for trial in trials if trial.parked_before is not None]
    assert held, f"{route.key} wrote undisturbed, but never reached its write when held:\n" + "\n".join(
        trial.describe() for trial in trials
    )
    unfinished = [item for item in rounds if item.erasure is None or item.erasure.status != "completed"]
    assert not unfinished, "the erasure did not complete:\n" + "\n".join(item.describe_erasure() for item in unfinished)
    landed = [trial for trial in held if trial.landed_anything]
    assert not landed, "a late write landed:\n" + "\n".join(trial.describe() for trial in landed)
    badly = [trial for trial in held if not trial.answered_well]
    assert not badly, "answered neither a refusal nor a success:\n" + "\n".join(trial.describe() for trial in badly)


def test_the_erasure_the_requests_were_held_past_left_nothing(rounds: list[Round]) -> None:
    """What the erasure itself left, before any held request went on (and its certificate then)."""
    for item in rounds:
        print(item.describe_erasure())
    left = [item for item in rounds if item.left_by_erasure or item.untrue_before]
    assert not left, "\n".join(item.describe_erasure() for item in left)
