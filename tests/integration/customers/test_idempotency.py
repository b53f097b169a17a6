"""Writes a client may retry: the same Idempotency-Key replays the first response and writes once.

The records lie in each customer's own partition, so erasure counts and deletes them at the cost of
that customer's records alone; once the customer's erasure began, a repeat is refused as any other
write is, never replayed.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections import Counter
from typing import Any

import pytest

from custody.declared import datamap
from custody.declared.settings import get_settings
from custody.platform.aws import clients
from custody.stores import dynamo
from custody.stores.idempotency_records import IdempotencyRecords
from custody.stores.partitions import BATCH_WRITE_MAX
from devstack.iam.enforce import acting_as
from devstack.metering import counting_calls
from tests.integration.customers.conftest import Customer, call, grant

DECLARED = datamap.OPERATIONAL_TABLES["idempotency"]
CONSENT = {"purpose": "crm_core", "policy_version": "2026-11"}


def _upload(text: bytes = b"Xq note") -> dict[str, str]:
    return {"file_name": "note.txt", "content_type": "text/plain", "content_base64": base64.b64encode(text).decode()}


def _partition(subject_id: str) -> list[dict[str, Any]]:
    """The customer's records, as erasure reads them: one Query of their partition."""
    response = clients.dynamodb().query(
        TableName=get_settings().table("idempotency"),
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": DECLARED.partition_key},
        ExpressionAttributeValues={":pk": {"S": subject_id}},
        ConsistentRead=True,
    )
    return [dynamo.from_item(item) for item in response["Items"]]


def _set_status(customer: Customer, status: str) -> None:
    """Where the erasure workflow puts the customer (Freeze: `erasing`; Certify: `erased`), set directly."""
    clients.dynamodb().update_item(
        TableName=get_settings().table("subjects"),
        Key={"subject_id": {"S": customer.subject_id}},
        UpdateExpression="SET #status = :status",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": {"S": status}},
    )


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
    assert len(call("subject_access", "GET", "/v1/me", customer).body["stores"]["documents"]["items"]) == 1


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
    mine = [dynamo.from_item(item) for item in records if item[DECLARED.partition_key]["S"] == customer.subject_id]
    assert len(mine) == 1
    # the customer's opaque id is the partition, and nowhere else: the record id is a hash
    assert customer.subject_id not in json.dumps([{**item, DECLARED.partition_key: ""} for item in mine], default=str)
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


def test_a_customers_records_are_in_their_partition_only(customer: Customer, new_customer) -> None:  # type: ignore[no-untyped-def]
    other = new_customer()
    grant(customer, "crm_core")
    call("collect", "POST", "/v1/me/consents", customer, CONSENT, {"Idempotency-Key": "part-0001"})
    call("collect", "POST", "/v1/me/documents", customer, _upload(), {"Idempotency-Key": "part-0002"})
    call("collect", "POST", "/v1/me/consents", other, CONSENT, {"Idempotency-Key": "part-0001"})
    mine, theirs = _partition(customer.subject_id), _partition(other.subject_id)
    assert sorted(item[str(DECLARED.sort_key)].split("#")[0] for item in mine) == ["grant_consent", "upload_document"]
    assert [item[str(DECLARED.sort_key)].split("#")[0] for item in theirs] == ["grant_consent"]
    assert not {item[str(DECLARED.sort_key)] for item in mine} & {item[str(DECLARED.sort_key)] for item in theirs}
    assert {item["status"] for item in mine + theirs} == {"COMPLETED"}


@pytest.mark.parametrize("status", ["erasing", "erased"])
def test_a_repeat_after_the_erasure_began_is_refused_like_any_write(customer: Customer, status: str) -> None:
    """Issue 16, case 3: a key sent before the withdrawal replayed 201s after the certificate."""
    grant(customer, "crm_core")
    for path, body, key in (
        ("/v1/me/consents", CONSENT, "late-0001"),
        ("/v1/me/documents", _upload(), "late-0002"),
    ):
        assert call("collect", "POST", path, customer, body, {"Idempotency-Key": key}).status == 201
    _set_status(customer, status)
    for path, body, key in (
        ("/v1/me/consents", CONSENT, "late-0001"),
        ("/v1/me/documents", _upload(), "late-0002"),
    ):
        without_key = call("collect", "POST", path, customer, body)
        replayed = call("collect", "POST", path, customer, body, {"Idempotency-Key": key})
        fresh = call("collect", "POST", path, customer, body, {"Idempotency-Key": key.replace("late", "anew")})
        assert (without_key.status, replayed.status, fresh.status) == (403, 403, 403), path
        assert replayed.body == fresh.body == without_key.body  # the one error shape of a refused write
        assert set(replayed.body) == {"error", "message", "details"}
        assert (replayed.body["error"], replayed.body["details"]) == ("forbidden", {"status": status})
    change = {"field": "legal_name", "value": "Xanthippe Quorn", "reason": "Quorn wedding"}
    refused = call(
        "subject_access", "POST", "/v1/me/change-requests", customer, change, {"Idempotency-Key": "late-0003"}
    )
    assert (refused.status, refused.body["details"]) == (403, {"status": status})


def test_a_repeat_after_the_withdrawal_is_refused_before_freeze(customer: Customer) -> None:
    """The withdrawal sets the pending erasure; the workflow (not run here) has not frozen the account yet."""
    grant(customer, "crm_core")
    assert call("collect", "POST", "/v1/me/consents", customer, CONSENT, {"Idempotency-Key": "gone-0001"}).status == 201
    assert call("collect", "DELETE", "/v1/me/consents/crm_core", customer).status == 200
    replayed = call("collect", "POST", "/v1/me/consents", customer, CONSENT, {"Idempotency-Key": "gone-0001"})
    without_key = call("collect", "POST", "/v1/me/consents", customer, CONSENT)
    assert (replayed.status, replayed.body) == (403, without_key.body)
    assert replayed.body["details"] == {"status": "erasing"}  # pending: Freeze has not run yet


def test_erasure_counts_and_deletes_a_customers_records_at_their_cost_alone(customer: Customer, new_customer) -> None:  # type: ignore[no-untyped-def]
    """What the erasure steps call (ShredKey deletes, Verify counts), held to the steps' role."""
    grant(customer, "crm_core")
    for index in range(3):
        call("collect", "POST", "/v1/me/consents", customer, CONSENT, {"Idempotency-Key": f"cost-{index:04d}"})
    crowd = [new_customer() for _ in range(5)]
    for other in crowd:
        call("collect", "POST", "/v1/me/consents", other, CONSENT, {"Idempotency-Key": "cost-0000"})
    records = IdempotencyRecords(get_settings())
    with counting_calls("dynamodb") as calls, acting_as("erasure_steps"):
        assert records.count(customer.subject_id, 100) == 3  # the grant() without a key wrote none
        assert records.delete_subject(customer.subject_id) == 3
        assert records.count(customer.subject_id, 1) == 0
    assert calls == Counter({"dynamodb.Query": 3, "dynamodb.BatchWriteItem": math.ceil(3 / BATCH_WRITE_MAX)})
    assert _partition(customer.subject_id) == []
    assert all(len(_partition(other.subject_id)) == 1 for other in crowd)
    # and with the records gone, the old key is a new request (the account is active in this test)
    again = call("collect", "POST", "/v1/me/consents", customer, CONSENT, {"Idempotency-Key": "cost-0000"})
    assert again.status == 201
    assert len(_partition(customer.subject_id)) == 1


def test_an_unknown_customer_has_no_records(customer: Customer) -> None:
    records = IdempotencyRecords(get_settings())
    with acting_as("erasure_steps"):
        assert records.count(str(uuid.uuid4()), 10) == 0
        assert records.delete_subject(str(uuid.uuid4())) == 0
