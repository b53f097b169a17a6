"""Change requests reviewed by a privacy officer: a reason always, and approval applied in one transaction."""

from __future__ import annotations

from typing import Any

from custody.customers.change_requests import MAX_PENDING
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution
from tests.integration.staff.conftest import audit_events, consented, footprint

IDENTITY = {"identity": {"legal_name": "Quilliam Zephyrine", "birth_date": "1980-05-06"}}


def _request(customer: Customer, value: str = "Quilliam Zephyrine-Ode") -> str:
    reply = customer.call(
        "POST", "/v1/me/change-requests", {"field": "legal_name", "value": value, "reason": "wedding"}
    )
    assert reply.status == 201, reply.text
    return str(reply.body["change_request_id"])


def _decide(officer: Any, customer: Customer, request_id: str, decision: str, reason: str | None) -> Any:
    body: dict[str, Any] = {"customer_id": customer.subject_id, "decision": decision}
    if reason is not None:
        body["reason"] = reason
    return officer.call("POST", f"/v1/staff/change-requests/{request_id}/decision", body)


def test_the_queue_lists_ids_and_fields_only_and_approval_applies_the_change(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    customer = consented(new_customer, "crm_core", profile=IDENTITY)
    request_id = _request(customer)
    officer = staff("privacy_officer")

    queue = officer.call("GET", "/v1/staff/change-requests")
    assert queue.status == 200
    mine = [item for item in queue.body["change_requests"] if item["change_request_id"] == request_id]
    assert len(mine) == 1
    assert "Zephyrine-Ode" not in queue.text, "the queue shows ids and field names, never values"

    version_before = customer.call("GET", "/v1/me").body["stores"]["profiles"]["version"]
    approved = _decide(officer, customer, request_id, "approve", "marriage certificate seen")
    assert approved.status == 200, approved.text
    report = customer.call("GET", "/v1/me").body
    assert report["stores"]["profiles"]["categories"]["identity"]["legal_name"] == "Quilliam Zephyrine-Ode"
    assert report["stores"]["profiles"]["version"] != version_before
    [decided] = [
        item for item in report["stores"]["change_requests"]["items"] if item["change_request_id"] == request_id
    ]
    assert decided["status"] == "approved"
    still_queued = officer.call("GET", "/v1/staff/change-requests").body["change_requests"]
    assert request_id not in {item["change_request_id"] for item in still_queued}
    decisions = [
        event for event in audit_events(local_stack, customer.subject_id) if event["step"] == "change_request_decision"
    ]
    assert "approved" in [event["outcome"] for event in decisions]
    assert all("Zephyrine" not in str(event) for event in decisions)


def test_a_decision_needs_a_reason_and_a_privacy_officer_and_a_refusal_changes_nothing(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    customer = consented(new_customer, "crm_core", profile=IDENTITY)
    request_id = _request(customer)
    before = footprint(local_stack, customer.subject_id)

    assert _decide(staff("privacy_officer"), customer, request_id, "approve", None).status == 422
    # API Gateway: a support agent's token has no privacy_officer scope.
    assert _decide(staff("support"), customer, request_id, "approve", "looks fine to me").status == 401
    assert footprint(local_stack, customer.subject_id) == before

    rejected = _decide(staff("privacy_officer"), customer, request_id, "reject", "no supporting document")
    assert rejected.status == 200, rejected.text
    identity = customer.call("GET", "/v1/me").body["stores"]["profiles"]["categories"]["identity"]
    assert identity["legal_name"] == "Quilliam Zephyrine"
    again = _decide(staff("privacy_officer"), customer, request_id, "approve", "changed my mind")
    assert again.status == 409, "a decided request is not decided twice"


def test_an_erased_customer_is_refused_alike_during_and_after_the_erasure(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    """A fresh break found 403 while erasing but 200 `[]` after the certificate: one answer for both."""
    customer = consented(new_customer, "crm_core", profile=IDENTITY)
    _request(customer)
    officer = staff("privacy_officer")
    request_id = customer.call("POST", "/v1/me/withdrawal", {}).body["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    listed = officer.call("GET", f"/v1/staff/change-requests?customer_id={customer.subject_id}")
    assert listed.status == 403, listed.text
    assert listed.body["details"]["reason"] == "no_active_customer"


def test_every_decision_frees_a_place_under_the_limit_of_requests_awaiting_review(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    customer = consented(new_customer, "crm_core", profile=IDENTITY)
    officer = staff("privacy_officer")
    requested = [_request(customer) for _ in range(MAX_PENDING)]
    full = customer.call("POST", "/v1/me/change-requests", {"field": "legal_name", "value": "Q Ode", "reason": "x"})
    assert full.status == 409, full.text
    assert _decide(officer, customer, requested[0], "reject", "no document").status == 200
    requested.append(_request(customer))
    assert _decide(officer, customer, requested[1], "approve", "certificate seen").status == 200
    requested.append(_request(customer))
    again = customer.call("POST", "/v1/me/change-requests", {"field": "legal_name", "value": "Q Ode", "reason": "x"})
    assert again.status == 409, again.text
