"""A legal hold pauses a customer's erasure: accepted and recorded, started when the hold is lifted or ends.

A privacy officer places a hold (`PUT /v1/staff/customers/{customer_id}/legal-hold`): a declared reason
code, a ticket reference, a last day. A withdrawal under it answers 202 `held`; nothing starts; the
customer's status page says until when and why (the code only). Lifting it (`DELETE`) starts the erasure
through admission; so does the daily sweep once the last day has ended. Other roles are refused, bad
input is a 422 that writes nothing, and no free text reaches the ledger.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from custody.declared import clock, datamap, holds
from custody.declared.settings import Settings
from custody.erasure.starter import ErasureStarter
from custody.retention import disposal
from custody.stores import dynamo
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable
from custody.stores.subjects import SubjectRegistry
from devstack.iam.enforce import acting_as
from devstack.residue import residue
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution
from tests.integration.retained import after, staff_member
from tests.integration.staff.conftest import audit_events, footprint
from tests.robustness.finality import execution_arn, request_item

TODAY = clock.now().date()
LATER = (TODAY + timedelta(days=30)).isoformat()
HOLD = {"reason_code": "dispute", "ticket": "LEG-2041", "until": LATER}


def _hold_path(customer: Customer) -> str:
    return f"/v1/staff/customers/{customer.subject_id}/legal-hold"


def _not_started(stack: LocalStack, request_id: str) -> bool:
    try:
        stack.clients("stepfunctions").describe_execution(executionArn=execution_arn(stack, request_id))
    except ClientError as error:
        return error.response["Error"]["Code"] == "ExecutionDoesNotExist"
    return False


def _held_withdrawal(stack: LocalStack, customer: Customer) -> dict[str, Any]:
    accepted = customer.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    assert (accepted.body["status"], accepted.body["on_hold_until"]) == ("held", HOLD["until"])
    assert _not_started(stack, accepted.body["request_id"])
    body: dict[str, Any] = accepted.body
    return body


def test_a_withdrawal_under_a_hold_waits_and_completes_when_the_hold_is_lifted(
    local_stack: LocalStack, customer: Customer
) -> None:
    customer.fill()
    officer = staff_member(local_stack, "privacy_officer")
    placed = officer.call("PUT", _hold_path(customer), HOLD)
    assert placed.status == 200, placed.text
    assert (placed.body["reason_code"], placed.body["until"], placed.body["held_requests"]) == ("dispute", LATER, 0)
    # The customer sees the hold, its provision and last day, before asking for anything.
    shown = customer.call("GET", "/v1/me").body["legal_hold"]
    assert shown == {"reason_code": "dispute", "provision": holds.REASONS["dispute"].legal_source, "until": LATER}

    accepted = _held_withdrawal(local_stack, customer)
    request_id = accepted["request_id"]
    status = customer.call("GET", f"/v1/requests/{request_id}").body
    assert (status["status"], status["on_hold_until"], status["hold_reason"]) == ("held", LATER, "dispute")
    assert HOLD["ticket"] not in json.dumps(status)
    # The customer withdrew: nothing of theirs may be written or read meanwhile, though nothing is erased yet.
    assert customer.call("PATCH", "/v1/me/profile", {"contact": {"phone": "+14155550123"}}).status == 403
    assert residue(local_stack.clients, local_stack.resources, customer.subject_id).get("profiles")
    # Asked again, the withdrawal is the same held request.
    assert customer.call("POST", "/v1/me/withdrawal").body["request_id"] == request_id

    # Placed again to extend it: the held request and its status page follow.
    extended = {**HOLD, "until": (TODAY + timedelta(days=60)).isoformat()}
    again = officer.call("PUT", _hold_path(customer), extended)
    assert (again.status, again.body["held_requests"]) == (200, 1)
    assert customer.call("GET", f"/v1/requests/{request_id}").body["on_hold_until"] == extended["until"]

    lifted = officer.call("DELETE", _hold_path(customer))
    assert lifted.status == 200, lifted.text
    assert lifted.body["released_requests"] == 1
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    done = customer.call("GET", f"/v1/requests/{request_id}").body
    assert (done["status"], done["on_hold_until"]) == ("completed", None)
    assert residue(local_stack.clients, local_stack.resources, customer.subject_id) == {}

    steps = [event["step"] for event in audit_events(local_stack, customer.subject_id)]
    assert {"legal_hold_placed", "legal_hold_lifted"} <= set(steps)
    chain = [event["step"] for event in _request_events(local_stack, request_id)]
    assert chain[:2] == ["withdrawal_requested", "erasure_held"]
    assert "erasure_released" in chain


def _request_events(stack: LocalStack, request_id: str) -> list[dict[str, Any]]:
    s3 = stack.clients("s3")
    bucket = stack.resources.buckets["audit"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"ledger/{request_id}/").get("Contents", [])
    found = [json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()) for item in listed]
    return sorted((event for event in found if "seq" in event), key=lambda event: event["seq"])


def test_the_sweep_starts_a_held_erasure_once_its_hold_has_ended(
    local_stack: LocalStack, settings: Settings, customer: Customer
) -> None:
    customer.fill()
    officer = staff_member(local_stack, "privacy_officer")
    until = TODAY.isoformat()
    assert officer.call("PUT", _hold_path(customer), {**HOLD, "until": until}).status == 200
    accepted = customer.call("POST", "/v1/me/withdrawal")
    request_id = accepted.body["request_id"]
    assert accepted.body["status"] == "held"
    sweep = disposal.RetentionSweep(settings)

    with acting_as("retention"):
        during = sweep.run(clock.now())  # the hold's last day is today: it holds on
    assert request_id not in during.request_ids
    assert _not_started(local_stack, request_id)
    assert during.held >= 1
    held = disposal.held_erasures(settings, clock.now())
    assert held.count >= 1
    later = clock.parse(request_item(local_stack, request_id)["created_at"]) + timedelta(days=40)
    assert disposal.held_erasures(settings, later).past_due >= 1  # held past the month GDPR art. 12(3) allows

    with acting_as("retention"):
        ended = sweep.run(after(until))
    assert ended.holds_released >= 1
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert request_item(local_stack, request_id)["status"] == "completed"
    steps = [event["step"] for event in audit_events(local_stack, customer.subject_id)]
    assert "legal_hold_ended" in steps


def test_a_hold_pauses_a_purpose_withdrawal_too(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill()
    officer = staff_member(local_stack, "privacy_officer")
    assert officer.call("PUT", _hold_path(customer), HOLD).status == 200
    withdrawn = customer.call("DELETE", f"/v1/me/consents/{datamap.MARKETING}")
    assert withdrawn.status == 200, withdrawn.text
    request_id = withdrawn.body["erasure"]["request_id"]
    assert request_item(local_stack, request_id)["status"] == "held"
    assert _not_started(local_stack, request_id)
    assert officer.call("DELETE", _hold_path(customer)).body["released_requests"] == 1
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"


def test_a_hold_cannot_stop_an_erasure_already_admitted(
    local_stack: LocalStack, settings: Settings, customer: Customer
) -> None:
    customer.fill()
    # A withdrawal recorded and waiting for a slot (as on the admission queue): admitted, not yet frozen.
    subjects = SubjectRegistry(settings)
    subject = subjects.load(customer.subject_id)
    request = ErasureRequest.new(customer.subject_id, ErasureReason.WITHDRAWAL, ())
    update = ErasureStarter.subject_update(request, subject)
    dynamo.transact([RequestsTable(settings).put_new(request), subjects.touch(subject, **update, bump_consent=True)])
    before = footprint(local_stack, customer.subject_id)
    refused = staff_member(local_stack, "privacy_officer").call("PUT", _hold_path(customer), HOLD)
    assert refused.status == 409, refused.text
    assert refused.body["details"] == {"status": "received"}
    assert footprint(local_stack, customer.subject_id) == before
    with acting_as("erase"):
        ErasureStarter(settings).start(request)
    assert wait_for_execution(local_stack, request.request_id)["status"] == "SUCCEEDED"


@pytest.mark.parametrize("group", ["support", "auditor"])
def test_only_a_privacy_officer_places_or_lifts_a_hold(local_stack: LocalStack, customer: Customer, group: str) -> None:
    customer.fill()
    caller = staff_member(local_stack, group)
    before = footprint(local_stack, customer.subject_id)
    for method, body in (("PUT", HOLD), ("DELETE", None)):
        through_gateway = caller.call(method, _hold_path(customer), body)
        at_the_function = caller.invoke(method, _hold_path(customer), body)
        # The gateway's authorizer refuses a token without the route's scope (401); the function, its group (403).
        assert through_gateway.status in (401, 403), (method, through_gateway.text)
        assert at_the_function.status == 403, (method, at_the_function.text)
    assert footprint(local_stack, customer.subject_id) == before


BAD_HOLDS = (
    {**HOLD, "reason_code": "the customer sued us for Quokka damages"},
    {**HOLD, "ticket": "call Quilliam back"},
    {**HOLD, "until": (TODAY - timedelta(days=1)).isoformat()},
    {**HOLD, "until": (TODAY + timedelta(days=holds.MAX_HOLD_DAYS + 1)).isoformat()},
    {**HOLD, "until": "someday"},
    {**HOLD, "note": "Quokka"},
    {key: value for key, value in HOLD.items() if key != "until"},
)


@pytest.mark.parametrize(
    "body",
    BAD_HOLDS,
    ids=["free-text-reason", "free-text-ticket", "past", "too-far", "not-a-date", "extra", "no-until"],
)
def test_bad_input_is_a_422_that_writes_nothing_and_reaches_no_ledger(
    local_stack: LocalStack, customer: Customer, body: dict[str, Any]
) -> None:
    customer.fill()
    officer = staff_member(local_stack, "privacy_officer")
    before = footprint(local_stack, customer.subject_id)
    reply = officer.call("PUT", _hold_path(customer), body)
    assert reply.status == 422, reply.text
    assert {"error", "message", "details"} <= set(reply.body)
    assert footprint(local_stack, customer.subject_id) == before
    text = json.dumps([reply.body, audit_events(local_stack, customer.subject_id)])
    for value in ("sued us", "Quilliam back", "someday", "Quokka"):
        assert value not in text


def test_lifting_no_hold_is_a_404_and_an_unknown_customer_is_refused(
    local_stack: LocalStack, customer: Customer
) -> None:
    customer.fill()
    officer = staff_member(local_stack, "privacy_officer")
    missing = officer.call("DELETE", _hold_path(customer))
    assert missing.status == 404, missing.text
    nobody = officer.call("PUT", "/v1/staff/customers/00000000-0000-4000-8000-000000000000/legal-hold", HOLD)
    assert nobody.status == 403, nobody.text


def test_a_held_withdrawal_tells_the_customer_the_hold_its_provision_and_last_day(
    local_stack: LocalStack, customer: Customer
) -> None:
    from custody.declared.notices import NoticeKind
    from tests.integration.erasure.test_notices import sent_to, template_of

    customer.fill()
    officer = staff_member(local_stack, "privacy_officer")
    assert officer.call("PUT", _hold_path(customer), HOLD).status == 200
    request_id = _held_withdrawal(local_stack, customer)["request_id"]
    told = dict(sent_to(local_stack, customer.email))
    assert told[template_of(local_stack, NoticeKind.LEGAL_HOLD_PLACED)] == {
        "hold_id": request_id,
        "categories": ", ".join(sorted(category.name for category in datamap.CATEGORIES)),
        "until_date": LATER,
        "obligation": HOLD["reason_code"],
        "legal_basis": holds.REASONS[HOLD["reason_code"]].legal_source,
    }
    assert template_of(local_stack, NoticeKind.RECEIPT) in told
    assert HOLD["ticket"] not in json.dumps(list(told.values()))
