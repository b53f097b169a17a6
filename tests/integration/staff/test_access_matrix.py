"""Need-to-know: role x grant state x category x purpose. Every refused cell is a 403 that
leaves nothing behind but a refused-access audit event."""

from __future__ import annotations

import time
from typing import Any

import pytest

from custody.declared import datamap
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, Customer
from tests.integration.staff.conftest import Caller, audit_events, consented, footprint, is_refusal


def grant(caller: Caller, customer: Customer, purpose: str, categories: list[str], **extra: Any) -> Any:
    body = {"customer_id": customer.subject_id, "purpose": purpose, "ticket": "SUP-1001", "categories": categories}
    return caller.call("POST", "/v1/staff/access-grants", {**body, **extra})


def refused_cleanly(stack: LocalStack, customer: Customer, attempt: Any) -> Any:
    before, events = footprint(stack, customer.subject_id), len(audit_events(stack, customer.subject_id))
    reply = attempt()
    assert reply.status == 403, reply.text
    assert footprint(stack, customer.subject_id) == before
    after = audit_events(stack, customer.subject_id)
    assert len(after) == events + 1, [(event["step"], event["outcome"]) for event in after[events:]]
    assert is_refusal(after[-1])
    return reply


@pytest.fixture
def everything(new_customer: Any) -> Customer:
    return consented(new_customer, "crm_core", "marketing", "payments", "health_services", profile=PROFILE)


@pytest.mark.parametrize(
    ("purposes", "purpose", "categories", "reason"),
    [
        (("crm_core", "marketing"), "marketing", ["identity"], "purpose_does_not_justify"),
        (("crm_core", "marketing"), "crm_core", ["preferences"], "purpose_does_not_justify"),
        (("crm_core",), "marketing", ["preferences"], None),  # the customer has not granted marketing
        (("crm_core",), "payments", ["payment"], None),
    ],
)
def test_a_grant_the_purpose_or_the_customer_does_not_allow_is_refused(
    local_stack: LocalStack,
    new_customer: Any,
    staff: Any,
    purposes: tuple[str, ...],
    purpose: str,
    categories: list[str],
    reason: str | None,
) -> None:
    customer = consented(new_customer, *purposes, profile={"identity": PROFILE["identity"]})
    reply = refused_cleanly(local_stack, customer, lambda: grant(staff("support"), customer, purpose, categories))
    if reason:
        assert reply.body["details"]["reason"] == reason
    else:
        assert reply.body["error"] == "consent_required"


def test_an_auditor_cannot_request_grants_or_read_customers(
    local_stack: LocalStack, everything: Customer, staff: Any
) -> None:
    auditor = staff("auditor")
    before = footprint(local_stack, everything.subject_id)
    # API Gateway refuses first: an auditor's token carries no scope of these routes' groups.
    assert grant(auditor, everything, "crm_core", ["identity"]).status == 401
    assert auditor.call("GET", f"/v1/staff/customers/{everything.subject_id}?grant_id=x").status == 401
    assert footprint(local_stack, everything.subject_id) == before


def test_a_granted_read_shows_the_granted_categories_and_masks_the_rest(
    local_stack: LocalStack, everything: Customer, staff: Any
) -> None:
    support = staff("support")
    created = grant(support, everything, "crm_core", ["identity", "contact"])
    assert created.status == 201, created.text
    assert created.body["status"] == "active"
    view = support.call("GET", f"/v1/staff/customers/{everything.subject_id}?grant_id={created.body['grant_id']}")
    assert view.status == 200, view.text
    categories = view.body["categories"]
    assert categories["identity"]["legal_name"] == "Quilliam Zephyrine"
    assert categories["contact"]["phone"] == "+84987654321"
    assert set(categories["preferences"].values()) == {"*****"}
    assert "5555555555554444" not in view.text
    assert "Quokka" not in view.text
    assert view.body["masked"] == ["preferences"]
    unnamed = [item.name for item in datamap.CATEGORIES if item.sensitivity is not datamap.Sensitivity.PERSONAL]
    assert unnamed  # the data map declares sensitive and special categories, and the customer has them
    for name in unnamed:
        assert name not in view.body["categories"], f"{name} is named outside a grant"
        assert name not in view.text, f"{name} is named outside a grant"

    report = everything.call("GET", "/v1/me").body
    reads = [item for item in report["stores"]["staff_access"]["items"] if item.get("kind") == "read"]
    assert reads[-1]["staff_id"] == support.sub
    assert reads[-1]["purpose"] == "crm_core"
    assert reads[-1]["ticket"] == "SUP-1001"
    assert reads[-1]["categories"] == ["contact", "identity"]
    events = audit_events(local_stack, everything.subject_id)
    assert events[-1]["step"] == "staff_read"
    assert events[-1]["counts"] == {"contact": 1, "identity": 1}


def test_reads_without_a_usable_grant_are_refused(local_stack: LocalStack, everything: Customer, staff: Any) -> None:
    support, other = staff("support"), staff("support")
    path = f"/v1/staff/customers/{everything.subject_id}?grant_id="
    refused_cleanly(local_stack, everything, lambda: support.call("GET", path + "00000000-no-such-grant"))

    mine = grant(support, everything, "crm_core", ["identity"]).body["grant_id"]
    refused_cleanly(local_stack, everything, lambda: other.call("GET", path + mine))  # someone else's grant

    sensitive = grant(support, everything, "payments", ["payment"]).body
    assert sensitive["status"] == "pending_approval"
    reply = refused_cleanly(local_stack, everything, lambda: support.call("GET", path + sensitive["grant_id"]))
    assert reply.body["details"]["reason"] == "pending_approval"

    expired = grant(support, everything, "crm_core", ["contact"]).body["grant_id"]
    local_stack.clients("dynamodb").update_item(
        TableName=local_stack.resources.tables["staff_access"],
        Key={"subject_id": {"S": everything.subject_id}, "access_key": {"S": f"grant#{expired}"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    reply = refused_cleanly(local_stack, everything, lambda: support.call("GET", path + expired))
    assert reply.body["details"]["reason"] == "expired"

    marketing = grant(support, everything, "marketing", ["preferences"]).body["grant_id"]
    assert everything.call("DELETE", "/v1/me/consents/marketing").status in (200, 202)
    reply = refused_cleanly(local_stack, everything, lambda: support.call("GET", path + marketing))
    assert reply.body["error"] == "consent_required"


def test_sensitive_grants_need_another_privacy_officers_approval(
    local_stack: LocalStack, everything: Customer, staff: Any
) -> None:
    officer, second = staff("privacy_officer"), staff("privacy_officer")
    pending = grant(officer, everything, "payments", ["payment"]).body
    approval = f"/v1/staff/access-grants/{pending['grant_id']}/approval"
    body = {"customer_id": everything.subject_id}
    refused_cleanly(local_stack, everything, lambda: officer.call("POST", approval, body))
    assert staff("support").call("POST", approval, body).status == 401  # not a privacy officer: no such scope
    approved = second.call("POST", approval, body)
    assert approved.status == 200, approved.text
    assert approved.body["approved_by"] == second.sub
    view = officer.call("GET", f"/v1/staff/customers/{everything.subject_id}?grant_id={pending['grant_id']}")
    assert view.status == 200
    assert view.body["categories"]["payment"]["card"] == {"brand": "mastercard", "last4": "4444"}
    assert "5555555555554444" not in view.text


def test_grant_requests_are_validated(everything: Customer, staff: Any) -> None:
    support = staff("support")
    assert grant(support, everything, "crm_core", ["identity"], duration_minutes=481).status == 422
    assert grant(support, everything, "crm_core", ["documents"]).status == 422
    bad_ticket = {
        "customer_id": everything.subject_id,
        "purpose": "crm_core",
        "ticket": "call Mrs X",
        "categories": ["identity"],
    }
    assert support.call("POST", "/v1/staff/access-grants", bad_ticket).status == 422


def test_interactions_need_a_grant_whose_purpose_justifies_them(
    local_stack: LocalStack, everything: Customer, staff: Any
) -> None:
    support = staff("support")
    path = f"/v1/staff/customers/{everything.subject_id}/interactions"
    marketing = grant(support, everything, "marketing", ["preferences"]).body["grant_id"]
    body = {"kind": "support_ticket", "summary": "Asked about Xyloquent order", "reference": "ORD-9"}
    refused_cleanly(local_stack, everything, lambda: support.call("POST", path, {**body, "grant_id": marketing}))

    core = grant(support, everything, "crm_core", ["interactions"]).body["grant_id"]
    recorded = support.call("POST", path, {**body, "grant_id": core})
    assert recorded.status == 201, recorded.text
    assert abs(recorded.body["expires_at"] - (time.time() + 730 * 86400)) < 120
    stored = local_stack.clients("dynamodb").query(
        TableName=local_stack.resources.tables["interactions"],
        KeyConditionExpression="subject_id = :s",
        ExpressionAttributeValues={":s": {"S": everything.subject_id}},
    )["Items"]
    assert "Xyloquent" not in str(stored)
    view = support.call("GET", f"/v1/staff/customers/{everything.subject_id}?grant_id={core}")
    assert view.body["interactions"][0]["summary"] == "Asked about Xyloquent order"
