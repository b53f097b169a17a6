"""Staff escalations refused by the functions themselves (issue 14).

In AWS, each staff method's authorizer checks the token's scopes; these tests take it away and
invoke the functions directly with the claims API Gateway passes for a real token of a group the
route does not name — what reached production when only the local gateway checked groups. Each
refusal is a 403 that writes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, Customer
from tests.integration.staff.conftest import agreement, consented, footprint
from tests.integration.staff.test_access_matrix import grant

IDENTITY = {"identity": {"legal_name": "Oriel Quennell", "birth_date": "1976-02-03"}}


def _refused(reply: Any) -> None:
    assert reply.status == 403, reply.text
    assert reply.body["error"] == "forbidden"


def test_a_support_agent_cannot_approve_a_sensitive_grant(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    customer: Customer = consented(new_customer, "crm_core", "payments", profile={"payment": PROFILE["payment"]})
    officer, support = staff("privacy_officer"), staff("support")
    pending = grant(officer, customer, "payments", ["payment"]).body
    assert pending["status"] == "pending_approval"
    approval = f"/v1/staff/access-grants/{pending['grant_id']}/approval"
    before = footprint(local_stack, customer.subject_id)
    _refused(support.invoke("POST", approval, {"customer_id": customer.subject_id}))
    assert footprint(local_stack, customer.subject_id) == before, "the grant is still pending, nothing written"


def test_a_support_agent_cannot_decide_a_change_to_a_verified_name(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    customer: Customer = consented(new_customer, "crm_core", profile=IDENTITY)
    opened = customer.call(
        "POST", "/v1/me/change-requests", {"field": "legal_name", "value": "Someone Else", "reason": "because"}
    )
    assert opened.status == 201, opened.text
    path = f"/v1/staff/change-requests/{opened.body['change_request_id']}/decision"
    body = {"customer_id": customer.subject_id, "decision": "approve", "reason": "looks fine to me"}
    before = footprint(local_stack, customer.subject_id)
    _refused(staff("support").invoke("POST", path, body))
    assert footprint(local_stack, customer.subject_id) == before
    name = customer.call("GET", "/v1/me").body["stores"]["profiles"]["categories"]["identity"]["legal_name"]
    assert name == "Oriel Quennell"


def test_a_support_agent_cannot_rewrite_a_processor_agreement(staff: Any, processor: Any) -> None:
    officer, support, machine = staff("privacy_officer"), staff("support"), processor("escalation-dpa")
    processor_id = f"escalation-{uuid.uuid4().hex[:8]}"
    assert officer.call("PUT", f"/v1/staff/processors/{processor_id}", agreement(machine.sub)).status == 200
    rewritten = agreement(machine.sub, name="Someone Else Ltd", version="forged")
    _refused(support.invoke("PUT", f"/v1/staff/processors/{processor_id}", rewritten))
    listed = officer.call("GET", "/v1/staff/processors").body["processors"]
    (kept,) = [item for item in listed if item["processor_id"] == processor_id]
    assert (kept["name"], kept["version"]) == ("Mailing House Ltd", "2026-11-a")


def test_an_auditor_cannot_open_a_grant_to_read_a_customer(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    customer: Customer = consented(new_customer, "crm_core", profile={"contact": PROFILE["contact"]})
    auditor = staff("auditor")
    before = footprint(local_stack, customer.subject_id)
    body = {"customer_id": customer.subject_id, "purpose": "crm_core", "ticket": "AUD-1", "categories": ["contact"]}
    _refused(auditor.invoke("POST", "/v1/staff/access-grants", body))
    assert footprint(local_stack, customer.subject_id) == before, "no grant was written"
    path = f"/v1/staff/customers/{customer.subject_id}?grant_id={uuid.uuid4()}"
    _refused(auditor.invoke("GET", path))
