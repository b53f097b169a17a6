"""A customer withdraws: every store, every object version, their key and their identity go."""

from __future__ import annotations

import json
from typing import Any

from devstack.residue import residue
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import SUBMITTED_VALUES, Customer, history, wait_for_execution


def _residue(stack: LocalStack, subject_id: str) -> dict[str, int]:
    """What any store or derived record still holds for the subject (`devstack.residue`, from the data map)."""
    return residue(stack.clients, stack.resources, subject_id)


def test_withdrawal_erases_everything_and_certifies_it(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill(documents=2)
    assert _residue(local_stack, customer.subject_id).keys() >= {"profiles", "consents", "documents", "subject_keys"}

    accepted = customer.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    request_id = accepted.body["request_id"]
    described = wait_for_execution(local_stack, request_id)
    assert described["status"] == "SUCCEEDED", json.dumps(history(local_stack, described["executionArn"]))[-3000:]

    assert _residue(local_stack, customer.subject_id) == {}
    status = customer.call("GET", f"/v1/requests/{request_id}")
    assert status.status == 200
    assert (status.body["status"], status.body["steps_done"], status.body["steps_total"]) == ("completed", 7, 7)
    assert len(status.body["certificate_digest"]) == 64


def test_withdrawal_is_idempotent(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill()
    first = customer.call("POST", "/v1/me/withdrawal")
    again = customer.call("POST", "/v1/me/withdrawal")
    assert first.body["request_id"] == again.body["request_id"]
    wait_for_execution(local_stack, first.body["request_id"])


def test_the_history_holds_ids_and_counts_never_values(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill()
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    described = wait_for_execution(local_stack, request_id)
    text = json.dumps(history(local_stack, described["executionArn"]), default=str)
    for value in SUBMITTED_VALUES:
        assert value not in text
    assert customer.subject_id in text


def test_other_customers_are_untouched(local_stack: LocalStack, new_customer: Any) -> None:
    leaving, staying = new_customer(), new_customer()
    leaving.fill()
    staying.fill(documents=2)
    before = staying.call("GET", "/v1/me").body
    request_id = leaving.call("POST", "/v1/me/withdrawal").body["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    after = staying.call("GET", "/v1/me").body
    for volatile in ("generated_at",):
        before.pop(volatile)
        after.pop(volatile)
    assert after == before
