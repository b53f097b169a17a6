"""The auditor's API routes on a real erasure: what `custody audit show|verify` and the disposal register give.

`GET /v1/audit/requests/{id}` must return the same verdict the CLI's library computes (one
implementation), the execution history beside the ledger events, the certificate the chain attests,
and nothing the customer submitted; `GET /v1/audit/disposals` pages the disposal register.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from devstack import identity
from devstack.auth import render_claims
from tests.integration.audit.conftest import Erased
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Reply


class Staff:
    def __init__(self, stack: LocalStack, group: str) -> None:
        self.stack = stack
        self.token = stack.staff_token(f"{group}-{uuid.uuid4().hex[:8]}@staff.example", group)

    def get(self, path: str) -> Reply:
        response = self.stack.http.open(path, method="GET", headers={"Authorization": f"Bearer {self.token}"})
        return Reply.of(response)


@pytest.fixture(scope="module")
def auditor(local_stack: LocalStack) -> Staff:
    return Staff(local_stack, "auditor")


def test_the_review_is_the_cli_verdict_with_history_beside_the_ledger(erased: Erased, auditor: Staff) -> None:
    reply = auditor.get(f"/v1/audit/requests/{erased.request_id}")
    assert reply.status == 200, reply.text
    chain, verification = erased.inspect()
    (reviewed,) = reply.body["chains"]
    assert (reply.body["verified"], reviewed["chain_id"]) == (True, erased.request_id)
    assert reviewed["verification"] == {
        "ok": verification.ok,
        "events": verification.events,
        "head_seq": verification.head_seq,
        "head_hash": verification.head_hash,
        "certificate_digest": verification.certificate_digest,
        "findings": [],
    }
    assert [event["hash"] for event in reviewed["ledger"]] == [event.hash for event in chain.latest_events()]
    assert [event["seq"] for event in reviewed["ledger"]] == list(range(1, verification.events + 1))
    assert "certify" in {event["step"] for event in reviewed["ledger"]}
    (execution,) = reviewed["executions"]
    assert execution["status"] == "SUCCEEDED"
    kinds = [event["kind"] for event in execution["events"]]
    assert (kinds[0], kinds[-1]) == ("ExecutionStarted", "ExecutionSucceeded")
    assert {event["step"] for event in execution["events"] if event["kind"] == "TaskSucceeded"} >= {"certify"}
    certificates = {item["digest"]: item["document"] for item in reviewed["certificates"]}
    assert verification.certificate_digest in certificates
    assert certificates[verification.certificate_digest]["execution_arn"] == erased.execution_arn


def test_the_review_holds_nothing_the_customer_submitted(erased: Erased, auditor: Staff) -> None:
    text = auditor.get(f"/v1/audit/requests/{erased.request_id}").text
    leaked = [value for value in erased.submitted_values() if value in text]
    assert leaked == []


def test_privacy_officers_review_too(erased: Erased, local_stack: LocalStack) -> None:
    reply = Staff(local_stack, "privacy_officer").get(f"/v1/audit/requests/{erased.request_id}")
    assert (reply.status, reply.body["verified"]) == (200, True)


@pytest.mark.parametrize("path", ["/v1/audit/requests/{}", "/v1/audit/disposals"])
def test_support_is_refused_by_the_gateway_and_by_the_function(
    erased: Erased, local_stack: LocalStack, path: str
) -> None:
    """The route's scopes refuse support at the gateway (401); its groups refuse it in the function (403)."""
    support = Staff(local_stack, "support")
    path = path.format(erased.request_id)
    assert support.get(path).status == 401
    claims = render_claims(identity.unverified_claims(support.token))
    direct = Reply.of_proxy(local_stack.invoke("GET", path, claims))
    assert (direct.status, direct.body["error"]) == (403, "forbidden")


def test_a_request_the_ledger_never_saw_is_not_found(auditor: Staff) -> None:
    reply = auditor.get(f"/v1/audit/requests/{uuid.uuid4()}")
    assert (reply.status, reply.body["error"]) == (404, "not_found")


def test_the_disposal_register_lists_the_erasure_with_its_certificate(erased: Erased, auditor: Staff) -> None:
    reply = auditor.get("/v1/audit/disposals")
    assert reply.status == 200, reply.text
    entries = {entry["request_id"]: entry for entry in reply.body["disposals"]}
    entry = entries[erased.request_id]
    digest = erased.inspect()[1].certificate_digest
    assert (entry["reason"], entry["certificate_digest"]) == ("withdrawal", digest)
    assert entry["destroyed_at"] is not None
    assert sum(entry["stores"].values()) > 0
    assert reply.body["next_cursor"] is None


def test_the_disposal_register_pages_without_repeating(erased: Erased, local_stack: LocalStack, auditor: Staff) -> None:
    from tests.integration.erasure.conftest import Customer, wait_for_execution

    second = Customer.signed_up(local_stack)
    assert second.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
    accepted = second.call("POST", "/v1/me/withdrawal")
    assert wait_for_execution(local_stack, accepted.body["request_id"])["status"] == "SUCCEEDED"
    whole = [entry["request_id"] for entry in auditor.get("/v1/audit/disposals").body["disposals"]]
    assert len(whole) >= 2
    paged: list[str] = []
    path = "/v1/audit/disposals?limit=1"
    for _ in range(len(whole) + 1):
        page: dict[str, Any] = auditor.get(path).body
        assert len(page["disposals"]) == 1
        paged += [entry["request_id"] for entry in page["disposals"]]
        if page["next_cursor"] is None:
            break
        path = f"/v1/audit/disposals?limit=1&cursor={page['next_cursor']}"
    assert paged == whole


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("cursor=not-a-cursor", 400, "malformed_request"),
        ("since=2026-05-01&until=2026-04-01", 422, "invalid_input"),
        ("since=2024-01-01&until=2026-01-01", 422, "invalid_input"),
        ("since=2026-02-30", 422, "invalid_input"),
    ],
)
def test_the_disposal_register_refuses_what_it_cannot_page(auditor: Staff, query: str, status: int, error: str) -> None:
    reply = auditor.get(f"/v1/audit/disposals?{query}")
    assert (reply.status, reply.body["error"]) == (status, error), json.dumps(reply.body)
