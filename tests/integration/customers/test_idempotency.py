"""Writes a client may retry: the same Idempotency-Key replays the first response and writes once."""

from __future__ import annotations

import base64
import json

from custody.declared.settings import get_settings
from custody.platform.aws import clients
from custody.stores import dynamo
from tests.integration.customers.conftest import Customer, call, grant


def test_a_retried_consent_grant_is_recorded_once(customer: Customer) -> None:
    body = {"purpose": "crm_core", "policy_version": "2026-11"}
    first = call("collect", "POST", "/v1/me/consents", customer, body, {"Idempotency-Key": "grant-0001"})
    again = call("collect", "POST", "/v1/me/consents", customer, body, {"Idempotency-Key": "grant-0001"})
    assert (first.status, again.status) == (201, 201)
    assert first.body == again.body
    history = call("subject_access", "GET", "/v1/me", customer).body["stores"]["consents"]["history"]
    assert len(history) == 1
    call("collect", "POST", "/v1/me/consents", customer, body, {"Idempotency-Key": "grant-0002"})
    assert len(call("subject_access", "GET", "/v1/me", customer).body["stores"]["consents"]["history"]) == 2


def test_a_retried_upload_stores_one_document(customer: Customer) -> None:
    grant(customer, "crm_core")
    body = {
        "file_name": "note.txt",
        "content_type": "text/plain",
        "content_base64": base64.b64encode(b"Xq note").decode(),
    }
    first = call("collect", "POST", "/v1/me/documents", customer, body, {"Idempotency-Key": "upload-0001"})
    again = call("collect", "POST", "/v1/me/documents", customer, body, {"Idempotency-Key": "upload-0001"})
    assert first.body["document_id"] == again.body["document_id"]
    assert len(call("subject_access", "GET", "/v1/me", customer).body["stores"]["documents"]) == 1


def test_a_retried_change_request_opens_one_and_stores_no_value_in_the_idempotency_table(customer: Customer) -> None:
    grant(customer, "crm_core")
    body = {"field": "legal_name", "value": "Xanthippe Quorn", "reason": "Quorn wedding"}
    first = call("subject_access", "POST", "/v1/me/change-requests", customer, body, {"Idempotency-Key": "change-0001"})
    again = call("subject_access", "POST", "/v1/me/change-requests", customer, body, {"Idempotency-Key": "change-0001"})
    assert first.body == again.body
    assert "Xanthippe" not in first.raw
    listed = call("subject_access", "GET", "/v1/me/change-requests", customer).body["change_requests"]
    assert len(listed) == 1
    records = clients.dynamodb().scan(TableName=get_settings().table("idempotency"))["Items"]  # test inspection only
    assert records
    mine = [dynamo.from_item(item) for item in records if item["subject_id"]["S"] == customer.subject_id]
    assert len(mine) == 1
    # the customer's opaque id is the partition, and nowhere else: the record id is a hash
    assert customer.subject_id not in json.dumps([{**item, "subject_id": ""} for item in mine], default=str)
    stored = json.dumps([dynamo.from_item(item) for item in records], default=str)
    for value in ("Xanthippe", "Quorn", "Xq note", "note.txt"):
        assert value not in stored


def test_the_same_key_from_another_customer_is_another_request(customer: Customer, new_customer) -> None:  # type: ignore[no-untyped-def]
    other = new_customer()
    body = {"purpose": "crm_core", "policy_version": "2026-11"}
    call("collect", "POST", "/v1/me/consents", customer, body, {"Idempotency-Key": "shared-0001"})
    reply = call("collect", "POST", "/v1/me/consents", other, body, {"Idempotency-Key": "shared-0001"})
    assert reply.status == 201
    assert len(call("subject_access", "GET", "/v1/me", other).body["stores"]["consents"]["history"]) == 1


def test_a_malformed_key_is_refused_and_nothing_is_written(customer: Customer) -> None:
    body = {"purpose": "crm_core", "policy_version": "2026-11"}
    reply = call("collect", "POST", "/v1/me/consents", customer, body, {"Idempotency-Key": "bad key!"})
    assert (reply.status, reply.body["error"]) == (422, "invalid_input")
    assert call("subject_access", "GET", "/v1/me", customer).body["stores"]["consents"]["history"] == []


def test_a_refused_request_does_not_burn_its_key(customer: Customer) -> None:
    body = {"file_name": "note.txt", "content_type": "text/plain", "content_base64": base64.b64encode(b"hi").decode()}
    refused = call("collect", "POST", "/v1/me/documents", customer, body, {"Idempotency-Key": "upload-0009"})
    assert refused.status == 403
    grant(customer, "crm_core")
    accepted = call("collect", "POST", "/v1/me/documents", customer, body, {"Idempotency-Key": "upload-0009"})
    assert accepted.status == 201
