"""Erasure is final (issue 16): the numbered cases, and what comes after a certificate.

Each case names what it found on the day it was written; `tests/robustness/test_late_writes.py`
holds every writing route of the catalog the same way case 1 holds an upload.

1. An upload that read the subject (active) before the withdrawal and writes after Verify: it must
   be refused, and leave no key, no object, nothing to download.
2. After a full erasure (a withdrawal, or the retention sweep's) the subject record is a tombstone
   (id, status, when, which request) and the customer's old token reads no consent as granted.
3. A request repeated after the certificate with its Idempotency-Key is refused, never replayed,
   and the idempotency table keeps nothing of the customer (every route that takes the header).
4. Between the withdrawal's 202 and the workflow's Freeze nothing about the customer is written:
   their own writes, staff's and sub-processor disclosures are refused (403).
5. A sub-processor that never acknowledges does not keep the customer's own erasure (key shred,
   identity, Verify, certificate) waiting; its confirmation completes the record later.
6. (Issue 21) What a legal obligation keeps stays after a withdrawal, exactly and nothing more; when the
   obligation ends the sweep erases it, and then nothing of the customer remains.

And: downloads and reads after the certificate are refused or hold nothing; a purpose withdrawal
racing a write of a category only that purpose justifies leaves nothing of the category.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pytest

from custody.declared import catalog, datamap
from custody.declared.settings import Settings
from custody.erasure.starter import ErasureStarter
from custody.retention import disposal
from custody.stores.subjects import SubjectRegistry
from devstack.iam.enforce import acting_as
from tests.integration.erasure.conftest import PROFILE, SUBMITTED_VALUES, Reply
from tests.integration.retained import after, clock_at, with_invoices
from tests.robustness.examples import (
    ACK_TIMEOUT_SECONDS,
    Cast,
    Request,
    World,
    document,
    names_the_customer,
    request_for,
)
from tests.robustness.finality import (
    TOMBSTONE,
    certificate_problems,
    erase_to_certificate,
    execution_arn,
    footprint,
    identity_exists,
    leftovers,
    refused,
    refused_and_nothing_left,
    request_item,
    retained_problems,
    settle_subject,
    wait_for_request,
)
from tests.robustness.interleave import Call, Held, after_a_read

pytestmark = pytest.mark.usefixtures("intercepted")


def refused_for_the_erasure(reply: Reply) -> bool:
    """A refusal, and not for want of consent (`consent_required`): for the account's erasure."""
    return refused(reply) and reply.body.get("error") != "consent_required"


def after_reading(table: str) -> Any:
    """The park rule: before the first call made after a read of `table` (a physical name)."""
    seen = []

    def rule(call: Call) -> bool:
        if seen:
            return True
        if not call.writes and call.names(table):
            seen.append(call)
        return False

    return rule


def table(cast: Cast, name: str) -> str:
    return cast.stack.resources.tables[name]


# --- 1. an upload that read an active subject, writing after Verify ---------------------------------


@pytest.mark.parametrize("key", ["cached", "not yet made"])
def test_an_upload_that_read_an_active_subject_lands_nothing_after_the_certificate(
    cast: Cast, new_world: Any, key: str
) -> None:
    """With the customer's key cached by the function (it stored their profile), and with no key yet
    (their first upload: it makes the key after the shred, as the issue found)."""
    world = new_world(profile=key == "cached")
    route = catalog.route("POST", "/v1/me/documents")
    assert route is not None
    upload = request_for(route, world)
    held = Held(lambda: upload.send(cast.stack), after_reading(table(cast, "subjects")))
    assert held.start(), "the upload never read the subject record"
    try:
        erasure = erase_to_certificate(cast.stack, world.customer, world.acknowledge)
    finally:
        reply = held.finish()
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    problems = refused_and_nothing_left(cast.stack, world.subject_id, reply, "the upload")
    if isinstance(reply.body, dict) and reply.body.get("document_id"):
        download = world.customer.call("GET", f"/v1/me/documents/{reply.body['document_id']}")
        if not refused(download):
            problems.append(f"GET of the late document with the old token answered {download.status}")
    problems += [f"certificate: {problem}" for problem in certificate_problems(cast.stack, erasure.request_id)]
    writes = [str(call) for call in held.calls[held.calls.index(held.watch.parked_before) :] if call.writes]
    assert erasure.status == "completed", erasure
    assert not problems, "\n".join([*problems, "its writes after the hold: " + ", ".join(writes)])


# --- 2. the subject record after a full erasure -----------------------------------------------------


def _what_an_erased_subject_shows(cast: Cast, world: World) -> list[str]:
    problems = []
    item = cast.stack.clients("dynamodb").get_item(
        TableName=table(cast, "subjects"), Key={"subject_id": {"S": world.subject_id}}, ConsistentRead=True
    )["Item"]
    if set(item) - TOMBSTONE:
        problems.append(f"the subject record keeps {sorted(set(item) - TOMBSTONE)}")
    if item.get("status", {}).get("S") != "erased":
        problems.append(f"the subject record's status is {item.get('status')}")
    report = world.customer.call("GET", "/v1/me")
    if report.status == 200:
        granted = report.body.get("stores", {}).get("consents", {}).get("granted")
        if granted:
            problems.append(f"GET /v1/me with the old token reports {sorted(granted)} as granted")
        status = report.body.get("account", {}).get("status")
        if status != "erased":
            problems.append(f"GET /v1/me reports the account {status}")
    elif not refused(report):
        problems.append(f"GET /v1/me answered {report.status} {report.text[:200]}")
    return problems


def test_after_a_withdrawal_the_subject_is_a_tombstone_and_nothing_reads_as_granted(cast: Cast, new_world: Any) -> None:
    world = new_world()
    erasure = erase_to_certificate(cast.stack, world.customer, world.acknowledge)
    assert erasure.status == "completed", erasure
    problems = _what_an_erased_subject_shows(cast, world)
    assert not problems, "\n".join(problems)


def test_after_a_retention_erasure_the_subject_is_a_tombstone_and_nothing_reads_as_granted(
    cast: Cast, new_world: Any, settings: Settings
) -> None:
    world = new_world()
    last_active = SubjectRegistry(settings).load(world.subject_id).last_active_at
    assert last_active is not None
    with acting_as("retention"):  # what the sweep does for a customer it found, as its role allows
        request = ErasureStarter(settings).retire(world.subject_id, last_active)
    erasure = wait_for_request(cast.stack, request.request_id, world.acknowledge)
    assert erasure.status == "completed", erasure
    assert request_item(cast.stack, request.request_id)["reason"] == "retention"
    problems = _what_an_erased_subject_shows(cast, world)
    assert not problems, "\n".join(problems)


# --- 6. what a legal obligation keeps, then nothing ------------------------------------------------------


def test_what_an_obligation_keeps_stays_exactly_and_goes_when_it_ends(
    cast: Cast, new_world: Any, settings: Settings
) -> None:
    world = new_world()
    with_invoices(cast.stack, world.customer)
    erasure = erase_to_certificate(cast.stack, world.customer, world.acknowledge)
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    assert erasure.status == "completed", erasure
    problems = retained_problems(cast.stack, world.subject_id, erasure.request_id)
    problems += [f"certificate: {problem}" for problem in certificate_problems(cast.stack, erasure.request_id)]
    assert not problems, "\n".join(problems)

    kept = request_item(cast.stack, erasure.request_id)["certificate"]["retained"]
    moment = after(max(str(entry["until"]) for entry in kept))
    only_the_ends = settings.model_copy(update={"inactivity_days": 100_000})  # no one else of the stack is due
    with clock_at(moment):
        with acting_as("retention"):
            report = disposal.RetentionSweep(only_the_ends).run(moment)
        (ending,) = [
            rid for rid in report.request_ids if request_item(cast.stack, rid)["subject_id"] == world.subject_id
        ]
        ended = wait_for_request(cast.stack, ending, world.acknowledge)
        settle_subject(cast.stack, world.subject_id, world.acknowledge)
    assert ended.status == "completed", ended
    left = leftovers(cast.stack, world.subject_id)
    assert left == {}, left
    problems = [
        f"{rid}: {problem}" for rid in (erasure.request_id, ending) for problem in certificate_problems(cast.stack, rid)
    ]
    assert not problems, "\n".join(problems)


# --- 3. idempotent replays after the certificate -----------------------------------------------------


def _takes_idempotency_key(route: catalog.Route) -> bool:
    operation = document()["paths"][route.path][route.method.lower()]
    return any(parameter["name"].lower() == "idempotency-key" for parameter in operation.get("parameters", []))


IDEMPOTENT: Final = [route for route in catalog.ROUTES if _takes_idempotency_key(route)]


def test_the_routes_that_take_an_idempotency_key_are_found() -> None:
    assert {route.key for route in IDEMPOTENT} >= {"POST /v1/me/consents", "POST /v1/me/documents"}


@pytest.mark.parametrize("route", IDEMPOTENT, ids=lambda route: route.key)
def test_a_replay_after_the_certificate_is_refused_and_its_record_is_gone(
    cast: Cast, new_world: Any, route: catalog.Route
) -> None:
    world = new_world()
    request = request_for(route, world)
    first = request.send(cast.stack)
    assert 200 <= first.status < 300, first.text
    erasure = erase_to_certificate(cast.stack, world.customer, world.acknowledge)
    assert erasure.status == "completed", erasure
    again = request.send(cast.stack)  # the same key, body and (old) token
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    problems = refused_and_nothing_left(cast.stack, world.subject_id, again, "the replay with the old token")
    assert not problems, "\n".join(problems)


# --- 4. between the withdrawal and Freeze ------------------------------------------------------------


ABOUT_THE_CUSTOMER: Final = [route for route in catalog.ROUTES if names_the_customer(route)]


def test_between_the_withdrawal_and_freeze_nothing_about_the_customer_is_written(cast: Cast, new_world: Any) -> None:
    world = new_world()
    # Every value prepared first; a consent withdrawal last (it would refuse the others for want of consent).
    routes = sorted(ABOUT_THE_CUSTOMER, key=lambda route: route.method == "DELETE")
    requests = [request_for(route, world) for route in routes]
    withdrawal = Held(
        lambda: world.customer.call("POST", "/v1/me/withdrawal"), lambda call: call.operation == "StartExecution"
    )
    assert withdrawal.start(), "the withdrawal never started its workflow"
    problems = []
    try:
        for request in requests:
            before = footprint(cast.stack, world.subject_id)
            reply = request.send(cast.stack)
            settle_subject(cast.stack, world.subject_id, world.acknowledge)  # a purpose erasure it started
            after = footprint(cast.stack, world.subject_id)
            if after != before:
                changed = sorted(place for place in set(after) | set(before) if after.get(place) != before.get(place))
                problems.append(f"{request}: answered {reply.status}, and wrote to {changed}")
            elif request.route.method != "GET" and not refused_for_the_erasure(reply):
                problems.append(f"{request}: answered {reply.status} {reply.text[:160]} (nothing written)")
    finally:
        accepted = withdrawal.finish()
    assert accepted.status == 202, accepted.text
    erasure = wait_for_request(cast.stack, accepted.body["request_id"], world.acknowledge)
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    assert erasure.status == "completed", erasure
    assert not problems, "while the withdrawal was recorded and its workflow not started:\n" + "\n".join(problems)


# --- 5. a sub-processor that never acknowledges -------------------------------------------------------


def test_a_silent_sub_processor_does_not_hold_up_the_customers_own_erasure(cast: Cast, new_world: Any) -> None:
    world = new_world()
    body = {"processor_id": cast.processor_id, "categories": ["contact"]}
    disclosed = world.staff("support").call("POST", f"/v1/staff/customers/{world.subject_id}/disclosures", body)
    assert disclosed.status == 201, disclosed.text
    accepted = world.customer.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    request_id = accepted.body["request_id"]
    try:
        silent = wait_for_request(cast.stack, request_id, polls=600)  # the processor says nothing
        own = {
            "request": silent.status,
            "key material": leftovers(cast.stack, world.subject_id).get("subject_keys", 0),
            "identity": identity_exists(cast.stack, world.subject_id),
        }
        waiting_at = _open_states(cast, request_id)
    finally:
        confirmed = wait_for_request(cast.stack, request_id, world.acknowledge)
        settle_subject(cast.stack, world.subject_id, world.acknowledge)
    assert own == {"request": "completed", "key material": 0, "identity": False}, (
        f"with the sub-processor silent, after 30 s: {own}; the workflow waits in {waiting_at} "
        f"(its acknowledgement timeout is {ACK_TIMEOUT_SECONDS} s)"
    )
    assert certificate_problems(cast.stack, request_id) == []
    outcomes = request_item(cast.stack, request_id).get("sub_processors", {})
    assert confirmed.status == "completed"
    assert outcomes.get(cast.processor_id) == "confirmed", outcomes


def _open_states(cast: Cast, request_id: str) -> list[str]:
    """The states the execution entered and has not left (from its history)."""
    sfn = cast.stack.clients("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn(cast.stack, request_id), maxResults=1000)["events"]
    open_states: list[str] = []
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if details is None:
            continue
        if event["type"].endswith("StateEntered"):
            open_states.append(details["name"])
        elif details["name"] in open_states:
            open_states.remove(details["name"])
    return open_states


# --- reads and downloads after the certificate ----------------------------------------------------------


READS: Final = [route for route in ABOUT_THE_CUSTOMER if route.method == "GET"]


def _holds_something(reply: Reply) -> list[str]:
    """What a 2xx answer about an erased customer still shows: submitted values, granted purposes."""
    found = [value for value in (*SUBMITTED_VALUES, *_profile_strings()) if value in reply.text]
    granted = _granted(reply.body)
    return found + ([f"granted {sorted(granted)}"] if granted else [])


def _profile_strings() -> list[str]:
    strings = [value for category in PROFILE.values() for value in category.values() if isinstance(value, str)]
    return [value for value in strings if len(value) > 3]  # "vi" (a language) is in too many words


def _granted(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(key) for key in node.get("granted") or []] if isinstance(node.get("granted"), dict) else []
        return found + [item for value in node.values() for item in _granted(value)]
    if isinstance(node, list):
        return [item for value in node for item in _granted(value)]
    return []


def test_after_the_certificate_reads_and_downloads_are_refused_or_hold_nothing(cast: Cast, new_world: Any) -> None:
    world = new_world()
    requests = [request_for(route, world) for route in READS]
    assert any("{document_id}" in request.route.path for request in requests)
    for request in requests:
        assert 200 <= request.send(cast.stack).status < 300, f"{request} before the erasure"
    erasure = erase_to_certificate(cast.stack, world.customer, world.acknowledge)
    assert erasure.status == "completed", erasure
    problems = []
    for request in requests:
        reply = request.send(cast.stack)
        if request.route.path.endswith("{document_id}") and not refused(reply):
            problems.append(f"{request}: the download answered {reply.status}")
        elif 200 <= reply.status < 300 and _holds_something(reply):
            problems.append(f"{request}: answered {reply.status} showing {_holds_something(reply)}")
        elif not 200 <= reply.status < 300 and not refused(reply):
            problems.append(f"{request}: answered {reply.status} {reply.text[:160]}")
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    assert not problems, "\n".join(problems)


# --- a purpose withdrawal racing a write of that purpose's category ---------------------------------------


def _only_by_one_purpose() -> list[datamap.Category]:
    """The profile's categories that a single purpose other than crm_core justifies (its withdrawal erases them)."""
    return [
        category
        for category in datamap.categories_in("profiles")
        if len(category.purposes) == 1 and category.purposes[0] != datamap.CRM_CORE
    ]


@pytest.mark.parametrize("category", _only_by_one_purpose(), ids=lambda category: category.name)
def test_a_purpose_withdrawal_racing_a_write_of_its_category_leaves_nothing_of_it(
    cast: Cast, new_world: Any, category: datamap.Category
) -> None:
    world = new_world()
    purpose = category.purposes[0]
    route = catalog.route("PATCH", "/v1/me/profile")
    assert route is not None
    body = {category.name: PROFILE[category.name]}
    patch = Request(route, route.path, {}, {}, body, "customer", world.customer.token)
    held = Held(lambda: patch.send(cast.stack), after_a_read)
    assert held.start(), "the profile write never reached its write"
    try:
        withdrawn = world.customer.call("DELETE", f"/v1/me/consents/{purpose}")
        assert withdrawn.status == 200, withdrawn.text
        request_id = withdrawn.body["erasure"]["request_id"]
        erasure = wait_for_request(cast.stack, request_id, world.acknowledge)
    finally:
        reply = held.finish()
    settle_subject(cast.stack, world.subject_id, world.acknowledge)
    assert erasure.status == "completed", erasure
    items = footprint(cast.stack, world.subject_id).get("profiles", set())
    kept = [entry for entry in items if json.loads(entry).get("category", {}).get("S") == category.name]
    problems = [f"profiles keeps the {category.name} item after {purpose} was withdrawn"] if kept else []
    if not kept and 200 <= reply.status < 300:
        shown = world.customer.call("GET", "/v1/me").body.get("stores", {}).get("profiles", {}).get("categories", {})
        if category.name in shown:
            problems.append(f"the access report shows {category.name}")
    problems += [f"certificate: {problem}" for problem in certificate_problems(cast.stack, request_id)]
    assert not problems, "\n".join([*problems, f"the held PATCH answered {reply.status} {reply.text[:160]}"])
