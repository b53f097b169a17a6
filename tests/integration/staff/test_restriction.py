"""Restriction of processing (GDPR art. 18) and objection (art. 21) on the in-process stack: real
tokens through the local gateway, the real ASL on moto.

A restricted customer's data is kept and not used: staff are refused grants, approvals and reads
under an existing grant, interactions and disclosures (403 `processing_restricted`, never the ground),
and the customer is refused new data for, or consent to, a purpose that is not essential. Their own
requests go on. Lifted, everything works again. An objection stops a purpose as its withdrawal does and
starts the same erasure, recorded as an objection. The ledger holds ids and codes only.
(Every staff route the catalog declares refused is checked generically in
tests/robustness/test_restriction.py; the race with a restriction there too.)
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from custody.declared import datamap
from custody.declared.restriction import GROUNDS, Ground
from custody.erasure import plan
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, SUBMITTED_VALUES, Customer, wait_for_execution
from tests.integration.staff.conftest import Caller, audit_events, consented, footprint, is_refusal
from tests.integration.staff.test_processors import register

RESTRICTED = "processing_restricted"


def grant(caller: Caller, customer: Customer, purpose: str, categories: list[str]) -> Any:
    body = {"customer_id": customer.subject_id, "purpose": purpose, "ticket": "SUP-1801", "categories": categories}
    return caller.call("POST", "/v1/staff/access-grants", body)


def restrict(customer: Customer, ground: str = Ground.ACCURACY_CONTESTED.value) -> Any:
    return customer.call("POST", "/v1/me/restriction", {"ground": ground})


def names_no_ground(reply: Any) -> None:
    for ground in GROUNDS:
        assert ground not in reply.text, reply.text


def test_a_customer_restricts_and_lifts_and_sees_it_and_the_ledger_records_codes_only(
    local_stack: LocalStack, new_customer: Any
) -> None:
    customer = consented(new_customer, "crm_core", profile={"identity": PROFILE["identity"]})
    assert customer.call("GET", "/v1/me").body["restriction"] is None

    done = restrict(customer, "needed_for_legal_claims")
    assert done.status == 201, done.text
    assert done.body["restricted"] is True
    assert done.body["ground"] == "needed_for_legal_claims"
    assert done.body["article"] == "GDPR art. 18(1)(c)"
    assert done.body["essential_purposes"] == list(datamap.essential_purposes())
    shown = customer.call("GET", "/v1/me").body["restriction"]
    assert shown["ground"] == "needed_for_legal_claims"
    assert shown["since"] == done.body["since"]

    again = restrict(customer, "needed_for_legal_claims")
    assert again.status == 200  # nothing changed, nothing recorded
    other = restrict(customer, "accuracy_contested")
    assert other.status == 409
    assert other.body["details"]["reason"] == "already_restricted"

    before = footprint(local_stack, customer.subject_id)
    free_text = restrict(customer, "My landlord Quilliam Zephyrine is suing me")
    assert free_text.status == 422
    assert "Quilliam" not in free_text.text
    assert customer.call("POST", "/v1/me/restriction", {"ground": "accuracy_contested", "why": "x"}).status == 422
    assert footprint(local_stack, customer.subject_id) == before

    lifted = customer.call("DELETE", "/v1/me/restriction")
    assert lifted.status == 200, lifted.text
    assert lifted.body == {**lifted.body, "restricted": False, "ground": None, "since": None}
    assert customer.call("GET", "/v1/me").body["restriction"] is None
    assert customer.call("DELETE", "/v1/me/restriction").status == 404

    events = audit_events(local_stack, customer.subject_id)
    steps = [(event["step"], event["target"]) for event in events if "restriction" in event["step"]]
    assert steps == [
        ("restriction_applied", "restriction:needed_for_legal_claims"),
        ("restriction_lifted", "restriction"),
    ]
    text = json.dumps(events)
    for value in (*SUBMITTED_VALUES, customer.email, "landlord"):
        assert value not in text


def test_a_restricted_customer_is_refused_by_staff_and_disclosures_and_served_again_once_lifted(
    local_stack: LocalStack, new_customer: Any, staff: Any, processor: Any
) -> None:
    support, officer = staff("support"), staff("privacy_officer")
    processor_id = register(officer, processor(f"restricted-{uuid.uuid4().hex[:8]}"))
    purposes = ("crm_core", "marketing", "payments", "health_services", f"sharing:{processor_id}")
    customer = consented(new_customer, *purposes, profile=PROFILE)
    existing = grant(support, customer, "crm_core", ["identity", "interactions"])
    assert existing.status == 201, existing.text
    pending = grant(support, customer, "payments", ["payment"])
    assert pending.body["status"] == "pending_approval"
    grant_id, pending_id = existing.body["grant_id"], pending.body["grant_id"]
    view = f"/v1/staff/customers/{customer.subject_id}?grant_id={grant_id}"
    page = f"/v1/staff/customers/{customer.subject_id}/interactions?grant_id={grant_id}"
    interaction = {"grant_id": grant_id, "kind": "order", "summary": "Ordered a kettle"}
    disclosure = {"processor_id": processor_id, "categories": ["contact"]}
    attempts = {
        "grant": lambda: grant(support, customer, "crm_core", ["contact"]),
        "approval": lambda: officer.call(
            "POST", f"/v1/staff/access-grants/{pending_id}/approval", {"customer_id": customer.subject_id}
        ),
        "view": lambda: support.call("GET", view),
        "interactions": lambda: support.call("GET", page),
        "interaction": lambda: support.call(
            "POST", f"/v1/staff/customers/{customer.subject_id}/interactions", interaction
        ),
        "disclosure": lambda: support.call(
            "POST", f"/v1/staff/customers/{customer.subject_id}/disclosures", disclosure
        ),
    }

    assert restrict(customer, "unlawful_processing").status == 201
    for name, attempt in attempts.items():
        before = footprint(local_stack, customer.subject_id)
        events = len(audit_events(local_stack, customer.subject_id))
        reply = attempt()
        assert reply.status == 403, (name, reply.text)
        assert reply.body["error"] == RESTRICTED, (name, reply.body)
        assert reply.body["details"]["restricted"] is True
        names_no_ground(reply)
        assert footprint(local_stack, customer.subject_id) == before, name
        refusals = audit_events(local_stack, customer.subject_id)[events:]
        assert refusals, name
        assert all(is_refusal(event) for event in refusals), name
        assert all(RESTRICTED in (event["outcome"], event["target"].rsplit(":", 1)[-1]) for event in refusals), name

    assert customer.call("DELETE", "/v1/me/restriction").status == 200
    expected = {"grant": 201, "approval": 200, "view": 200, "interactions": 200, "interaction": 201, "disclosure": 201}
    for name, attempt in attempts.items():
        reply = attempt()
        assert reply.status == expected[name], (name, reply.text)


def test_while_restricted_only_essential_purposes_take_new_data_and_the_customers_own_requests_go_on(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    essentials = {name: PROFILE[name] for name in ("identity", "contact", "preferences")}
    customer = consented(new_customer, "crm_core", "marketing", profile=essentials)
    customer.call("DELETE", "/v1/me/consents/marketing")  # granted again below, as a fresh consent
    assert restrict(customer).status == 201

    before = footprint(local_stack, customer.subject_id)
    refused = customer.call("POST", "/v1/me/consents", {"purpose": "marketing", "policy_version": "2026-11"})
    assert refused.status == 403, refused.text
    assert refused.body["error"] == RESTRICTED
    assert refused.body["details"]["purposes"] == ["marketing"]
    assert footprint(local_stack, customer.subject_id) == before
    again = customer.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-12"})
    assert again.status == 201, again.text  # essential: a contract's own purpose

    # Essential data is corrected (art. 16; what art. 18(1)(a) waits for); nothing new for the rest.
    assert customer.call("PATCH", "/v1/me/profile", {"contact": {"phone": "+14155550123"}}).status == 200
    change = {"field": "legal_name", "value": "Quilliam Zephyrine-Ode", "reason": "Zephyrine wedding"}
    opened = customer.call("POST", "/v1/me/change-requests", change)
    assert opened.status == 201, opened.text
    officer = staff("privacy_officer")
    pending = officer.call("GET", f"/v1/staff/change-requests?customer_id={customer.subject_id}")
    assert pending.status == 200, pending.text
    assert [item["restricted"] for item in pending.body["change_requests"]] == [True]
    names_no_ground(pending)
    decided = officer.call(
        "POST",
        f"/v1/staff/change-requests/{opened.body['change_request_id']}/decision",
        {"customer_id": customer.subject_id, "decision": "approve", "reason": "Certificate seen"},
    )
    assert decided.status == 200, decided.text
    assert customer.call("POST", "/v1/me/exports").status == 202
    report = customer.call("GET", "/v1/me")
    assert report.status == 200
    assert report.body["stores"]["profiles"]["categories"]["identity"]["legal_name"] == "Quilliam Zephyrine-Ode"
    local_stack.wait_for_async()

    # The customer's erasure is never held back by a restriction.
    withdrawn = customer.call("POST", "/v1/me/withdrawal", {})
    assert withdrawn.status == 202, withdrawn.text
    assert wait_for_execution(local_stack, withdrawn.body["request_id"])["status"] == "SUCCEEDED"
    record = local_stack.clients("dynamodb").get_item(
        TableName=local_stack.resources.tables["subjects"], Key={"subject_id": {"S": customer.subject_id}}
    )["Item"]
    assert "restriction" not in record  # the tombstone replaced the record, restriction included


def test_a_restricted_customer_cannot_add_a_non_essential_category(local_stack: LocalStack, new_customer: Any) -> None:
    customer = consented(new_customer, "crm_core", "marketing", profile={"identity": PROFILE["identity"]})
    assert restrict(customer).status == 201
    before = footprint(local_stack, customer.subject_id)
    refused = customer.call("PATCH", "/v1/me/profile", {"preferences": PROFILE["preferences"]})
    assert refused.status == 403, refused.text
    assert refused.body["details"] == {"restricted": True, "purposes": ["marketing"]}
    assert "xenobotany" not in refused.text
    assert footprint(local_stack, customer.subject_id) == before
    assert customer.call("DELETE", "/v1/me/restriction").status == 200
    assert customer.call("PATCH", "/v1/me/profile", {"preferences": PROFILE["preferences"]}).status == 200
    # Removing a category is never refused: erasure is the customer's right, restricted or not.
    assert restrict(customer).status == 201
    removed = customer.call("PUT", "/v1/me/profile", {"identity": PROFILE["identity"]})
    assert removed.status == 200, removed.text
    assert "preferences" not in removed.body["categories"]


def test_an_objection_stops_the_purpose_with_the_erasure_its_withdrawal_would_start(
    local_stack: LocalStack, new_customer: Any
) -> None:
    customer = consented(
        new_customer,
        "crm_core",
        "marketing",
        profile={"identity": PROFILE["identity"], "preferences": PROFILE["preferences"]},
    )
    expected = plan.of_withdrawn_purpose("marketing", frozenset({"crm_core", "marketing"}), frozenset())
    assert expected is not None
    objected = customer.call("POST", "/v1/me/objections/marketing")
    assert objected.status == 201, objected.text
    assert objected.body["action"] == "objected"
    assert objected.body["granted"] == ["crm_core"]
    erasure = objected.body["erasure"]
    assert erasure["categories"] == list(expected.scope)
    request = local_stack.clients("dynamodb").get_item(
        TableName=local_stack.resources.tables["requests"], Key={"request_id": {"S": erasure["request_id"]}}
    )["Item"]
    assert request["reason"]["S"] == expected.reason.value  # the same erasure a withdrawal starts
    assert wait_for_execution(local_stack, erasure["request_id"])["status"] == "SUCCEEDED"
    report = customer.call("GET", "/v1/me").body
    assert "preferences" not in report["stores"]["profiles"]["categories"]
    assert [(item["purpose"], item["action"]) for item in report["stores"]["consents"]["history"]][-1] == (
        "marketing",
        "objected",
    )

    subject_events = audit_events(local_stack, customer.subject_id)
    objection = [event for event in subject_events if event["step"] == "purpose_objected"]
    assert [(event["target"], event["outcome"]) for event in objection] == [("marketing", "erasure_requested")]
    assert not [event for event in subject_events if event["step"] == "consent_withdrawn"]
    s3 = local_stack.clients("s3")
    bucket = local_stack.resources.buckets["audit"]
    opened = json.loads(
        s3.get_object(
            Bucket=bucket,
            Key=s3.list_objects_v2(Bucket=bucket, Prefix=f"ledger/{erasure['request_id']}/")["Contents"][0]["Key"],
        )["Body"].read()
    )
    assert (opened["step"], opened["target"]) == ("erasure_requested", "objection:marketing")
    text = json.dumps(subject_events)
    for value in (*SUBMITTED_VALUES, customer.email):
        assert value not in text

    # Objecting again (marketing is no longer granted) is recorded, and erases nothing more.
    repeated = customer.call("POST", "/v1/me/objections/marketing")
    assert repeated.status == 201, repeated.text
    assert repeated.body["erasure"] is None


def test_an_objection_to_a_purpose_without_the_right_to_object_is_a_clear_422(
    local_stack: LocalStack, new_customer: Any
) -> None:
    customer = consented(new_customer, "crm_core", "payments", "health_services")
    before = footprint(local_stack, customer.subject_id)
    for purpose, basis in (
        ("crm_core", "contract"),
        ("payments", "contract"),
        ("health_services", "consent"),
        ("sharing:mail-house", "consent"),
    ):
        reply = customer.call("POST", f"/v1/me/objections/{purpose}")
        assert reply.status == 422, (purpose, reply.text)
        assert reply.body["details"]["legal_basis"] == basis
        assert reply.body["details"]["objectable"] == list(datamap.objectable_purposes())
    unknown = customer.call("POST", "/v1/me/objections/Quilliam")
    assert unknown.status == 422
    assert "Quilliam" not in unknown.text
    assert footprint(local_stack, customer.subject_id) == before


def test_a_restriction_is_a_request_in_the_register_answered_at_once_and_the_customer_is_told(
    local_stack: LocalStack, new_customer: Any
) -> None:
    from custody.declared.notices import NoticeKind
    from tests.integration.erasure.test_notices import sent_to, template_of

    customer = consented(new_customer, "crm_core", profile={"identity": PROFILE["identity"]})
    done = restrict(customer)
    assert done.status == 201, done.text
    request_id = done.body["request_id"]
    status = customer.call("GET", f"/v1/requests/{request_id}").body
    assert (status["kind"], status["status"], status["outcome"]) == ("restriction", "completed", "restricted")
    assert status["received_at"] <= status["completed_at"] <= status["due_at"]
    officer = Caller(
        local_stack, local_stack.staff_token(f"officer-{uuid.uuid4().hex[:8]}@staff.example", "privacy_officer")
    )
    listed = officer.call("GET", "/v1/staff/requests?kind=restriction").body["requests"]
    assert request_id not in [entry["request_id"] for entry in listed]  # answered: no longer open
    told = dict(sent_to(local_stack, customer.email))
    completion = told[template_of(local_stack, NoticeKind.COMPLETION)]
    assert (completion["request_id"], completion["kind"]) == (request_id, "restriction of the processing of your data")
    assert restrict(customer).body["request_id"] is None  # asked again on the same ground: nothing new
