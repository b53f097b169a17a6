"""The requests register on moto: every kind received with its due date, extended once, answered, alarmed.

Through the local gateway with real tokens (the extension route: privacy officers only, once, before
the request falls due, for a declared reason; refused otherwise with nothing written), and the
register's own reads (due counts, the staff listing, the retention function's metrics).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.deadlines.register import RequestsRegister
from custody.declared import clock, jurisdictions
from custody.declared.errors import CustodyError
from custody.declared.jurisdictions import RequestKind
from custody.declared.notices import NoticeKind
from custody.declared.settings import Settings
from custody.retention import disposal
from custody.stores import dynamo
from custody.stores.requests import DataRequest, RequestsTable, RequestStatus
from devstack import identity
from devstack.auth import render_claims
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, Reply, wait_for_execution
from tests.integration.erasure.test_notices import sent_to, template_of
from tests.robustness.finality import request_item

EXTENSION = "/v1/staff/requests/{}/extension"


class Staff:
    def __init__(self, stack: LocalStack, group: str) -> None:
        self.stack = stack
        self.token = stack.staff_token(f"{group}-{uuid.uuid4().hex[:8]}@staff.example", group)

    def call(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Reply:
        response = self.stack.http.open(
            path,
            method=method,
            data=raw if raw is not None else (None if body is None else json.dumps(body)),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        return Reply.of(response)


@pytest.fixture(scope="module")
def officer(local_stack: LocalStack) -> Staff:
    return Staff(local_stack, "privacy_officer")


def change_request(customer: Customer) -> str:
    assert customer.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
    change = {"field": "legal_name", "value": "Quilliam Zephyrine-Ode", "reason": "Zephyrine wedding"}
    opened = customer.call("POST", "/v1/me/change-requests", change)
    assert opened.status == 201, opened.text
    return str(opened.body["change_request_id"])


def recorded(settings: Settings, kind: RequestKind, received: str, due: str, jurisdiction: str = "gdpr") -> str:
    """A request of `kind` recorded as received at `received`, due at `due` (the register as it would be then)."""
    request = DataRequest(str(uuid.uuid4()), kind, str(uuid.uuid4()), jurisdiction, received, due)
    dynamo.transact([RequestsTable(settings).put_new(request)])
    return request.request_id


def test_exports_and_change_requests_are_received_with_a_due_date_and_answered(
    local_stack: LocalStack, customer: Customer
) -> None:
    change_id = change_request(customer)
    exported = customer.call("POST", "/v1/me/exports")
    assert exported.status == 202, exported.text
    export_id = exported.body["export_id"]

    # The export may be written already (the exporter runs as soon as the runtime is free): its status
    # route shows its dates either way; the change request waits for an officer.
    listed = {item["request_id"]: item for item in customer.call("GET", "/v1/me").body["requests"]}
    assert change_id in listed
    assert set(listed) <= {change_id, export_id}
    item = listed[change_id]
    assert (item["kind"], item["jurisdiction"], item["extended"], item["open"]) == (
        "rectification",
        "gdpr",
        False,
        True,
    )
    assert item["status_url"] == f"/v1/requests/{change_id}"
    assert "subject_id" not in item
    for request_id in (change_id, export_id):
        status = customer.call("GET", f"/v1/requests/{request_id}").body
        expected_due = jurisdictions.jurisdiction("gdpr").due_at(clock.parse(status["received_at"]))
        assert status["due_at"] == clock.iso(expected_due)
    local_stack.wait_for_async()

    answered = customer.call("GET", f"/v1/requests/{export_id}").body
    assert (answered["kind"], answered["status"], answered["outcome"]) == ("access", "completed", "ready")
    assert answered["completed_at"] <= answered["due_at"]
    assert answered["notices"] == {"receipt": "sent", "completion": "sent"}
    assert answered["steps_total"] == 0  # no workflow: only an erasure has steps
    assert [item["request_id"] for item in customer.call("GET", "/v1/me").body["requests"]] == [change_id]
    completions = [
        data
        for template, data in sent_to(local_stack, customer.email)
        if template == template_of(local_stack, NoticeKind.COMPLETION)
    ]
    assert completions == [
        {
            "request_id": export_id,
            "kind": "access to your data",
            "completed_date": answered["completed_at"][:10],
            "outcome": "your copy is ready: download it from your account within 7 days",
        }
    ]


def test_a_decided_change_request_is_answered(local_stack: LocalStack, customer: Customer, officer: Staff) -> None:
    change_id = change_request(customer)
    decision = {"customer_id": customer.subject_id, "decision": "reject", "reason": "The passport says otherwise"}
    assert officer.call("POST", f"/v1/staff/change-requests/{change_id}/decision", decision).status == 200
    status = customer.call("GET", f"/v1/requests/{change_id}").body
    assert (status["kind"], status["status"], status["outcome"]) == ("rectification", "completed", "rejected")
    assert status["notices"] == {"receipt": "sent", "completion": "sent"}
    assert customer.call("GET", "/v1/me").body["requests"] == []


def test_a_privacy_officer_extends_a_request_once(local_stack: LocalStack, customer: Customer, officer: Staff) -> None:
    change_id = change_request(customer)
    before = request_item(local_stack, change_id)
    extended = officer.call("POST", EXTENSION.format(change_id), {"reason": "complexity"})
    assert extended.status == 200, extended.text
    expected = jurisdictions.jurisdiction("gdpr").extended_due_at(clock.parse(before["due_at"]))
    assert extended.body["due_at"] == clock.iso(expected)
    assert extended.body["extended"] is True
    assert extended.body["extension"]["reason"] == "complexity"
    assert extended.body["extension"]["previous_due_at"] == before["due_at"]
    assert extended.body["notices"] == {"receipt": "sent", "extension": "sent"}
    # The customer sees it, and was told why and until when.
    status = customer.call("GET", f"/v1/requests/{change_id}").body
    assert (status["extended"], status["due_at"]) == (True, clock.iso(expected))
    notices = [
        data
        for template, data in sent_to(local_stack, customer.email)
        if template == template_of(local_stack, NoticeKind.EXTENSION)
    ]
    assert notices == [
        {
            "request_id": change_id,
            "kind": "correction of your data",
            "reason": jurisdictions.EXTENSION_REASONS["complexity"].description,
            "law": "GDPR",
            "due_date": clock.iso(expected)[:10],
            "previous_due_date": before["due_at"][:10],
        }
    ]
    # Twice is refused, and changes nothing.
    after = request_item(local_stack, change_id)
    again = officer.call("POST", EXTENSION.format(change_id), {"reason": "volume"})
    assert (again.status, again.body["error"], again.body["details"]) == (
        409,
        "conflict",
        {"reason": "already_extended"},
    )
    assert request_item(local_stack, change_id) == after


@pytest.mark.parametrize("group", ["support", "auditor"])
def test_only_privacy_officers_extend(local_stack: LocalStack, customer: Customer, group: str) -> None:
    """Refused by the gateway (the route's scopes) and by the function itself (its groups), nothing written."""
    change_id = change_request(customer)
    before = request_item(local_stack, change_id)
    staff = Staff(local_stack, group)
    assert staff.call("POST", EXTENSION.format(change_id), {"reason": "complexity"}).status == 401
    claims = render_claims(identity.unverified_claims(staff.token))
    direct = Reply.of_proxy(local_stack.invoke("POST", EXTENSION.format(change_id), claims, {"reason": "complexity"}))
    assert (direct.status, direct.body["error"]) == (403, "forbidden")
    assert customer.call("POST", EXTENSION.format(change_id), {"reason": "complexity"}).status == 401
    assert request_item(local_stack, change_id) == before


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"reason": "because"}, 422, "invalid_input"),  # not a declared reason
        ({"reason": "Complexity"}, 422, "invalid_input"),
        ({"reason": "complexity", "note": "the customer's own words"}, 422, "invalid_input"),  # no free text
        ({}, 422, "invalid_input"),
        ({"reason": ""}, 422, "invalid_input"),
        ({"reason": 7}, 422, "invalid_input"),
        (None, 422, "invalid_input"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    local_stack: LocalStack, customer: Customer, officer: Staff, body: Any, status: int, error: str
) -> None:
    change_id = change_request(customer)
    before = request_item(local_stack, change_id)
    reply = officer.call("POST", EXTENSION.format(change_id), body)
    assert (reply.status, reply.body["error"]) == (status, error), reply.text
    assert "because" not in reply.text  # never echoed
    assert "own words" not in reply.text
    assert request_item(local_stack, change_id) == before


def test_malformed_bodies_and_unknown_ids_are_refused(local_stack: LocalStack, officer: Staff) -> None:
    unknown = str(uuid.uuid4())
    assert officer.call("POST", EXTENSION.format(unknown), raw="{not json").status == 400
    missing = officer.call("POST", EXTENSION.format(unknown), {"reason": "complexity"})
    assert (missing.status, missing.body["error"]) == (404, "not_found")
    odd = officer.call("POST", EXTENSION.format("not-a-request"), {"reason": "complexity"})
    assert odd.status == 404
    assert request_item(local_stack, unknown) == {}


def test_what_cannot_be_extended_is_refused_with_its_reason(
    local_stack: LocalStack, officer: Staff, settings: Settings
) -> None:
    now = clock.now()
    past = recorded(
        settings, RequestKind.ACCESS, clock.iso(now - timedelta(days=40)), clock.iso(now - timedelta(days=9))
    )
    default = recorded(
        settings, RequestKind.ACCESS, clock.iso(now), clock.iso(now + timedelta(days=28)), jurisdiction="default"
    )
    answered = recorded(settings, RequestKind.ACCESS, clock.iso(now), clock.iso(now + timedelta(days=30)))
    RequestsTable(settings).close_now(answered, RequestStatus.COMPLETED, "ready")
    ccpa_volume = recorded(settings, RequestKind.ACCESS, clock.iso(now), clock.iso(now + timedelta(days=45)), "ccpa")
    for request_id, reason in ((past, "past_due"), (default, "not_extendable"), (answered, "closed")):
        before = request_item(local_stack, request_id)
        reply = officer.call("POST", EXTENSION.format(request_id), {"reason": "complexity"})
        assert (reply.status, reply.body["details"]) == (409, {"reason": reason}), reply.text
        assert request_item(local_stack, request_id) == before
    extended = officer.call("POST", EXTENSION.format(ccpa_volume), {"reason": "volume"})
    assert extended.status == 200
    assert (
        clock.parse(extended.body["due_at"]) - clock.parse(extended.body["extension"]["previous_due_at"])
    ).days == 45


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attempts=st.lists(st.sampled_from(["complexity", "volume", "because", ""]), min_size=1, max_size=4),
    jurisdiction=st.sampled_from(["gdpr", "ccpa", "default"]),
)
def test_extension_moves_the_due_date_at_most_once_and_never_earlier(
    local_stack: LocalStack, settings: Settings, attempts: list[str], jurisdiction: str
) -> None:
    """Whatever officers try, in whatever order: the due date moves once at most, later, past receipt."""
    now = clock.now()
    policy = jurisdictions.jurisdiction(jurisdiction)
    request_id = recorded(
        settings, RequestKind.RESTRICTION, clock.iso(now), clock.iso(policy.due_at(now)), jurisdiction=jurisdiction
    )
    register = RequestsRegister(settings)
    first_due = request_item(local_stack, request_id)["due_at"]
    succeeded = 0
    refusals: list[int] = []
    for reason in attempts:
        try:
            register.extend(request_id, reason, str(uuid.uuid4()))
        except CustodyError as error:  # a refusal: a domain error, 4xx, never anything else
            refusals.append(error.status)
        else:
            succeeded += 1
        item = request_item(local_stack, request_id)
        assert item["due_at"] >= first_due >= item["created_at"]
    assert set(refusals) <= {409, 422}
    item = request_item(local_stack, request_id)
    valid = [reason for reason in attempts if reason in policy.reasons]
    assert succeeded == (1 if valid else 0)
    assert ("extension" in item) == bool(succeeded)
    if succeeded:
        assert item["due_at"] == clock.iso(policy.extended_due_at(clock.parse(first_due)))
        assert item["extension"]["reason"] == valid[0]
    else:
        assert item["due_at"] == first_due
    RequestsTable(settings).close_now(request_id, RequestStatus.COMPLETED, "ready")  # out of the due counts


def test_due_counts_listing_and_the_alarmed_metrics(local_stack: LocalStack, settings: Settings) -> None:
    """Restriction requests, which nothing else here records: the counts by kind are exact."""
    now = clock.now()
    register = RequestsRegister(settings)
    baseline = register.due_counts(now).by_kind["restriction"]
    overdue = recorded(
        settings, RequestKind.RESTRICTION, clock.iso(now - timedelta(days=31)), clock.iso(now - timedelta(hours=1))
    )
    soon = recorded(
        settings, RequestKind.RESTRICTION, clock.iso(now - timedelta(days=27)), clock.iso(now + timedelta(days=3))
    )
    later = recorded(settings, RequestKind.RESTRICTION, clock.iso(now), clock.iso(now + timedelta(days=30)))
    counts = register.due_counts(now).by_kind["restriction"]
    assert counts == {"overdue": baseline["overdue"] + 1, "due_soon": baseline["due_soon"] + 1}

    auditor = Staff(local_stack, "auditor")
    listed = auditor.call("GET", "/v1/staff/requests?kind=restriction&due_within_days=7")
    assert listed.status == 200, listed.text
    ids = [item["request_id"] for item in listed.body["requests"]]
    assert ids.index(overdue) < ids.index(soon)
    assert later not in ids
    flags = {item["request_id"]: item["overdue"] for item in listed.body["requests"]}
    assert (flags[overdue], flags[soon]) == (True, False)
    assert Staff(local_stack, "support").call("GET", "/v1/staff/requests").status == 401
    bad = auditor.call("GET", "/v1/staff/requests?kind=everything")
    assert (bad.status, bad.body["error"]) == (422, "invalid_input")

    # The retention function's hourly run publishes what the alarms watch.
    answer = local_stack.clients("lambda").invoke(
        FunctionName=local_stack.resources.functions["retention"].name, Payload=json.dumps({"task": "sla"}).encode()
    )
    result = json.loads(answer["Payload"].read())
    total = register.due_counts(clock.now())
    assert (result["requests_overdue"], result["requests_due_soon"]) == (total.overdue, total.due_soon)
    assert result["requests_overdue"] >= 1
    assert result["requests_due_soon"] >= 1
    for request_id in (overdue, soon, later):
        RequestsTable(settings).close_now(request_id, RequestStatus.COMPLETED, "ready")
    assert register.due_counts(now).by_kind["restriction"] == baseline


def test_the_register_of_a_period_holds_every_request_received_in_it(
    local_stack: LocalStack, customer: Customer, officer: Staff
) -> None:
    """`received_since`/`received_until`: what `custody requests register` prints, over the API (the console's
    auditors read it): answered requests too, oldest first; a period that is not two days in order, at most a
    year and a day apart, is refused."""
    change_id = change_request(customer)
    decision = {"customer_id": customer.subject_id, "decision": "reject", "reason": "The passport says otherwise"}
    assert officer.call("POST", f"/v1/staff/change-requests/{change_id}/decision", decision).status == 200
    auditor = Staff(local_stack, "auditor")
    assert change_id not in {item["request_id"] for item in auditor.call("GET", "/v1/staff/requests").body["requests"]}
    today = clock.now().date()
    period = f"received_since={today - timedelta(days=1)}&received_until={today}"
    listed = auditor.call("GET", f"/v1/staff/requests?{period}")
    assert listed.status == 200, listed.text
    entries = {item["request_id"]: item for item in listed.body["requests"]}
    assert (entries[change_id]["kind"], entries[change_id]["status"]) == ("rectification", "completed")
    received = [item["received_at"] for item in listed.body["requests"]]
    assert received == sorted(received)
    assert (listed.body["received_since"], listed.body["received_until"]) == (
        str(today - timedelta(days=1)),
        str(today),
    )
    narrowed = auditor.call("GET", f"/v1/staff/requests?{period}&kind=erasure").body["requests"]
    assert change_id not in {item["request_id"] for item in narrowed}
    for query in (
        f"received_since={today}",  # one end only
        f"received_since={today}&received_until={today - timedelta(days=1)}",  # out of order
        f"received_since={today - timedelta(days=400)}&received_until={today}",  # longer than a year and a day
        "received_since=2026-02-30&received_until=2026-03-01",  # no such day
    ):
        refused = auditor.call("GET", f"/v1/staff/requests?{query}")
        assert (refused.status, refused.body["error"]) == (422, "invalid_input"), query


def test_erasure_readers_keep_to_erasures(local_stack: LocalStack, new_customer: Any, settings: Settings) -> None:
    """The SLA measure and the disposal register read the `by_status` index every kind shares."""
    leaving = new_customer()
    leaving.fill()
    withdrawn = leaving.call("POST", "/v1/me/withdrawal").body["request_id"]
    assert wait_for_execution(local_stack, withdrawn)["status"] == "SUCCEEDED"
    before = disposal.open_erasures(settings, clock.now()).count
    change_request(new_customer())  # an open rectification: received, like an erasure would be
    assert disposal.open_erasures(settings, clock.now()).count == before
    entries = disposal.register(settings, clock.now() - timedelta(days=1), clock.now() + timedelta(days=1))
    assert all(entry["reason"] in ("withdrawal", "purpose_withdrawn", "retention") for entry in entries)
    (entry,) = [entry for entry in entries if entry["request_id"] == withdrawn]
    assert entry["due_at"] > entry["requested_at"]
    assert (entry["extended"], entry["on_time"]) == (False, True)


def test_the_cli_lists_what_falls_due_and_the_register(
    local_stack: LocalStack, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops import cli, target

    place = target.Target(settings, local_stack.clients, "the test's local stack", "")
    monkeypatch.setattr(target, "resolve", lambda args: place)
    now = clock.now()
    late = recorded(
        settings, RequestKind.RESTRICTION, clock.iso(now - timedelta(days=50)), clock.iso(now - timedelta(days=2))
    )
    assert (
        cli.main(["requests", "due", "--kind", "restriction", "--within-days", "0", "--json"], configure_logging=False)
        == 0
    )
    listed = json.loads(capsys.readouterr().out)
    (entry,) = [item for item in listed["requests"] if item["request_id"] == late]
    assert (entry["overdue"], entry["open"], entry["kind"]) == (True, True, "restriction")
    assert listed["overdue"] >= 1
    assert cli.main(["requests", "due", "--kind", "restriction"], configure_logging=False) == 0
    assert f"{late}  restriction  received  OVERDUE" in capsys.readouterr().out
    RequestsTable(settings).close_now(late, RequestStatus.COMPLETED, "ready")
    since = clock.iso(now - timedelta(days=51))[:10]
    assert cli.main(["requests", "register", "--since", since, "--json"], configure_logging=False) == 0
    (answered,) = [item for item in json.loads(capsys.readouterr().out) if item["request_id"] == late]
    assert (answered["status"], answered["open"], answered["on_time"], answered["outcome"]) == (
        "completed",
        False,
        False,  # answered after its due date: late, and the register says so
        "ready",
    )
