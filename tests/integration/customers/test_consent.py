"""Consent: an append-only ledger, current state derived from it, withdrawal that erases."""

from __future__ import annotations

import time
import uuid

from custody.access_control.principals import StaffMember
from custody.declared import datamap
from custody.declared.settings import get_settings
from custody.subprocessors.registry import AgreementTerms, ProcessorRegistry
from tests.integration.customers.conftest import Customer, call, grant


def _report(customer: Customer) -> dict:  # type: ignore[type-arg]
    reply = call("subject_access", "GET", "/v1/me", customer)
    assert reply.status == 200, reply.raw
    return reply.body  # type: ignore[no-any-return]


def test_grant_and_withdraw_are_appended_and_the_state_is_derived(customer: Customer) -> None:
    grant(customer, "crm_core", "marketing")
    reply = call("collect", "DELETE", "/v1/me/consents/marketing", customer)
    assert reply.status == 200
    assert reply.body["granted"] == ["crm_core"]
    grant(customer, "marketing")

    consents = _report(customer)["stores"]["consents"]
    assert consents["granted"] == {"crm_core": "2026-11", "marketing": "2026-11"}
    actions = [(event["purpose"], event["action"]) for event in consents["history"]]
    assert actions == [("crm_core", "grant"), ("marketing", "grant"), ("marketing", "withdraw"), ("marketing", "grant")]
    assert all(event["policy_version"] == "2026-11" and event["channel"] == "api" for event in consents["history"])


def test_an_unknown_purpose_is_refused_and_nothing_is_recorded(customer: Customer) -> None:
    reply = call("collect", "POST", "/v1/me/consents", customer, {"purpose": "resale", "policy_version": "1"})
    assert (reply.status, reply.body["error"]) == (422, "invalid_input")
    unregistered = {"purpose": "sharing:nobody-registered", "policy_version": "1"}
    reply = call("collect", "POST", "/v1/me/consents", customer, unregistered)
    assert (reply.status, reply.body["error"]) == (422, "invalid_input")
    assert _report(customer)["stores"]["consents"]["history"] == []


def test_a_malformed_grant_is_a_422_naming_the_field(customer: Customer) -> None:
    reply = call("collect", "POST", "/v1/me/consents", customer, {"purpose": "crm_core", "policy_version": "v 1;"})
    assert reply.status == 422
    assert [item["field"] for item in reply.body["details"]["fields"]] == ["policy_version"]


def test_withdrawing_what_was_never_granted_is_a_404(customer: Customer) -> None:
    grant(customer, "crm_core")
    reply = call("collect", "DELETE", "/v1/me/consents/marketing", customer)
    assert (reply.status, reply.body["error"]) == (404, "not_found")


def test_a_refusal_does_not_echo_the_purpose_it_was_given(customer: Customer) -> None:
    grant(customer, "crm_core")
    for purpose in ("sharing%3A%3Cimg%20src%3Dx%3E", "sharing%3Aacme-mail-ltd"):
        reply = call("collect", "DELETE", f"/v1/me/consents/{purpose}", customer)
        assert reply.status in (404, 422), reply.raw
        assert "img" not in reply.raw
        assert "acme-mail" not in reply.raw


def test_withdrawing_a_purpose_opens_an_erasure_of_exactly_what_it_alone_justified(customer: Customer) -> None:
    grant(customer, "crm_core", "payments", "health_services")
    reply = call("collect", "DELETE", "/v1/me/consents/payments", customer)
    assert reply.status == 200
    erasure = reply.body["erasure"]
    assert erasure["categories"] == ["payment", "exports"]  # an export taken before may hold the card
    status = call("subject_access", "GET", erasure["status_url"], None)
    assert status.status == 200
    assert (status.body["reason"], status.body["status"]) == ("purpose_withdrawn", "received")
    open_requests = _report(customer)["open_requests"]
    assert [item["request_id"] for item in open_requests] == [erasure["request_id"]]


def _register(processor_id: str) -> None:
    """A sub-processor in the registry: only a registered one can be named by a `sharing:` purpose."""
    terms = AgreementTerms.model_validate(
        {
            "name": "Acme Mail",
            "version": "2026-11-a",
            "signed_on": "2026-11-01",
            "purposes": ["crm_core"],
            "categories": ["contact"],
            "commitments": {
                "purpose_limitation": True,
                "confidentiality": True,
                "deletion_days": 30,
                "onward_transfer_requires_approval": True,
            },
            "principal": f"principal_of_{processor_id.replace('-', '_')}",
        }
    )
    officer = StaffMember(str(uuid.uuid4()), frozenset({"privacy_officer"}))
    ProcessorRegistry(get_settings()).put(officer, processor_id, terms)


def test_withdrawing_a_purpose_whose_categories_another_purpose_covers_erases_nothing(customer: Customer) -> None:
    _register("acme-mail")
    grant(customer, "crm_core", "sharing:acme-mail")
    reply = call("collect", "DELETE", "/v1/me/consents/sharing:acme-mail", customer)
    assert reply.status == 200
    assert reply.body["erasure"] is None


def test_withdrawing_crm_core_is_a_full_withdrawal(customer: Customer) -> None:
    grant(customer, "crm_core", "marketing")
    reply = call("collect", "DELETE", "/v1/me/consents/crm_core", customer)
    assert reply.status == 200
    erasure = reply.body["erasure"]
    assert set(erasure["categories"]) == {category.name for category in datamap.CATEGORIES}
    status = call("subject_access", "GET", erasure["status_url"], None)
    assert status.body["reason"] == "withdrawal"


def test_a_full_withdrawal_needs_a_recent_sign_in(customer: Customer) -> None:
    grant(customer, "crm_core")
    stale = Customer(customer.subject_id, customer.email, int(time.time()) - 16 * 60, customer.resources)
    reply = call("collect", "DELETE", "/v1/me/consents/crm_core", stale)
    assert (reply.status, reply.body["error"]) == (401, "reauthentication_required")
    assert _report(customer)["stores"]["consents"]["granted"] == {"crm_core": "2026-11"}


def test_status_of_an_unknown_or_malformed_request_is_a_404() -> None:
    for request_id in ("00000000-0000-4000-8000-000000000000", "..%2F..%2Fetc%2Fpasswd", "x" * 64):
        reply = call("subject_access", "GET", f"/v1/requests/{request_id}", None)
        assert reply.status == 404, request_id
