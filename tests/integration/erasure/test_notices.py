"""Notices on moto: the receipt and the completion, and the address gone from everywhere after the last one.

The completion notice is sent after the customer's identity is deleted, from the address Freeze sealed
(custody.notices.addresses). After it, the address — and its sealed form — is searched for in every
DynamoDB table, every S3 object version (the audit ledger among them), every log event and the
execution's history: only SES's own record of the sent message (moto's `sent_messages`) holds it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from moto.ses.models import ses_backends

from custody.declared import naming
from custody.declared.notices import NoticeKind
from custody.erasure.starter import ErasureStarter
from custody.stores.requests import NOTICE_ADDRESS, RequestsTable
from custody.stores.subject_keys import SubjectKeysTable, notice_partition
from devstack.provision import ACCOUNT_ID
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, history, wait_for_execution
from tests.robustness.finality import request_item


def sent(stack: LocalStack) -> list[Any]:
    """What moto's SES accepted: its record of the messages sent (the only place an address may stay)."""
    return list(ses_backends[ACCOUNT_ID][stack.resources.region].sent_messages)


def sent_to(stack: LocalStack, address: str) -> list[tuple[str, dict[str, str]]]:
    """(template, data) of each templated message moto's SES accepted for `address`, in order."""
    found = []
    for message in sent(stack):
        destinations = getattr(message, "destinations", {}) or {}
        if address in (destinations.get("ToAddresses") or []):
            found.append((str(message.template), json.loads(message.template_data)))
    return found


def template_of(stack: LocalStack, kind: NoticeKind) -> str:
    return naming.notice_template_name(stack.resources.environment["CUSTODY_RESOURCE_PREFIX"], kind.value)


@pytest.fixture
def sealed_forms(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every sealed address Freeze keeps on a request, as it kept it (the form to search for afterwards)."""
    kept: list[str] = []
    original = RequestsTable.keep_address

    def keep(self: RequestsTable, request_id: str, sealed: str) -> bool:
        kept.append(sealed)
        return original(self, request_id, sealed)

    monkeypatch.setattr(RequestsTable, "keep_address", keep)
    return kept


def _every_table_item(stack: LocalStack) -> Iterator[str]:
    dynamodb = stack.clients("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page.get("Items", []):
                yield json.dumps(
                    item, default=lambda value: value.decode("latin-1") if isinstance(value, bytes) else str(value)
                )


def _every_object_version(stack: LocalStack) -> Iterator[bytes]:
    s3 = stack.clients("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])["Body"]
                yield version["Key"].encode() + b"\n" + body.read()


def _every_log_event(stack: LocalStack) -> Iterator[str]:
    logs = stack.clients("logs")
    for group in logs.get_paginator("describe_log_groups").paginate():
        for found in group.get("logGroups", []):
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=found["logGroupName"]):
                for event in page.get("events", []):
                    yield str(event.get("message", ""))


def where(stack: LocalStack, needles: list[str], execution_arn: str | None) -> dict[str, int]:
    """How many places of each kind still hold any of `needles` (tables, object versions, logs, history, users)."""
    raw = [needle.encode() for needle in needles]
    places = {
        "dynamodb": sum(any(needle in item for needle in needles) for item in _every_table_item(stack)),
        "s3": sum(any(needle in body for needle in raw) for body in _every_object_version(stack)),
        "logs": sum(any(needle in line for needle in needles) for line in _every_log_event(stack)),
        "history": int(
            execution_arn is not None
            and any(needle in json.dumps(history(stack, execution_arn), default=str) for needle in needles)
        ),
        "cognito": sum(
            any(needle in json.dumps(user, default=str) for needle in needles)
            for user in stack.clients("cognito-idp").list_users(UserPoolId=stack.pool(naming.CUSTOMER_POOL).pool_id)[
                "Users"
            ]
        ),
    }
    return {place: count for place, count in places.items() if count}


def test_a_withdrawal_is_acknowledged_with_its_due_date(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill()
    accepted = customer.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    request_id = accepted.body["request_id"]
    # Asking again returns the same request and acknowledges nothing more (counted below).
    assert customer.call("POST", "/v1/me/withdrawal").body["request_id"] == request_id
    wait_for_execution(local_stack, request_id)

    status = customer.call("GET", f"/v1/requests/{request_id}").body
    assert status["kind"] == "erasure"
    assert status["jurisdiction"] == "gdpr"
    assert status["received_at"] == status["created_at"]
    assert status["due_at"].endswith("T23:59:59.999Z")
    assert status["due_at"] > status["received_at"]
    assert status["notices"] == {"receipt": "sent", "erasure_completion": "sent"}

    receipts = [
        data
        for template, data in sent_to(local_stack, customer.email)
        if template == template_of(local_stack, NoticeKind.RECEIPT) and data["request_id"] == request_id
    ]
    assert receipts == [
        {
            "request_id": request_id,
            "kind": "erasure of your data",
            "received_date": status["received_at"][:10],
            "due_date": status["due_date"],
            "law": "GDPR",
        }
    ]


def test_after_the_completion_notice_nothing_of_the_address_remains(
    local_stack: LocalStack, customer: Customer, sealed_forms: list[str]
) -> None:
    customer.fill(documents=1)
    assert where(local_stack, [customer.email], None) == {"cognito": 1}  # the search finds what is there
    accepted = customer.call("POST", "/v1/me/withdrawal")
    request_id = accepted.body["request_id"]
    described = wait_for_execution(local_stack, request_id)
    assert described["status"] == "SUCCEEDED"

    item = request_item(local_stack, request_id)
    assert item["status"] == "completed"
    certificate = item["certificate"]
    completions = [
        data
        for template, data in sent_to(local_stack, customer.email)
        if template == template_of(local_stack, NoticeKind.ERASURE_COMPLETION)
    ]
    assert completions == [
        {
            "request_id": request_id,
            "completed_date": certificate["completed_at"][:10],
            "certificate_digest": item["certificate_digest"],
            "unrecoverable_date": certificate["unrecoverable_after"][:10],
        }
    ]
    assert item["notices"]["erasure_completion"]["status"] == "sent"
    # The address was sealed at Freeze, and both its key and its sealed form are gone now.
    assert len(sealed_forms) == 1
    assert sealed_forms[0].startswith("cc1.")
    assert NOTICE_ADDRESS not in item
    keys = local_stack.clients("dynamodb").query(
        TableName=local_stack.resources.tables["subject_keys"],
        KeyConditionExpression="subject_id = :partition",
        ExpressionAttributeValues={":partition": {"S": notice_partition(request_id)}},
        ConsistentRead=True,
    )
    assert keys["Count"] == 0
    # The certificate's date covers the address's shredding: it counts from no earlier than the key's.
    assert certificate["unrecoverable_after"] > item["key_shredded_at"]

    assert where(local_stack, [customer.email, *sealed_forms], described["executionArn"]) == {}
    # ... and SES's own record of the messages is the one place that holds it: the change request's
    # receipt (fill() opens one), the erasure's receipt and its completion.
    assert [template for template, _ in sent_to(local_stack, customer.email)] == [
        template_of(local_stack, kind)
        for kind in (NoticeKind.RECEIPT, NoticeKind.RECEIPT, NoticeKind.ERASURE_COMPLETION)
    ]


def test_an_erasure_without_an_address_completes_without_a_notice_and_says_so(
    local_stack: LocalStack, settings: Any
) -> None:
    subject_id = str(uuid.uuid4())  # a customer of whom Cognito holds no user (no address anywhere)
    from custody.customers.consent import ConsentLedger

    ConsentLedger(settings).grant(subject_id, "crm_core", "2026-11", "api")
    before = len(sent(local_stack))
    request = ErasureStarter(settings).withdraw(subject_id)
    assert wait_for_execution(local_stack, request.request_id)["status"] == "SUCCEEDED"
    item = request_item(local_stack, request.request_id)
    assert item["status"] == "completed"
    assert {kind: notice["status"] for kind, notice in item["notices"].items()} == {
        "receipt": "not_sent",
        "erasure_completion": "not_sent",
    }
    assert {notice.get("reason") for notice in item["notices"].values()} == {"no_address"}
    assert len(sent(local_stack)) == before
    assert SubjectKeysTable(settings).notice_key(request.request_id) is None


def test_a_retention_erasure_completes_without_a_notice_and_says_so(local_stack: LocalStack, settings: Any) -> None:
    from custody.customers.consent import ConsentLedger
    from custody.stores.subjects import SubjectRegistry

    subject_id = str(uuid.uuid4())
    ConsentLedger(settings).grant(subject_id, "crm_core", "2026-11", "api")
    last_active = SubjectRegistry(settings).load(subject_id).last_active_at
    assert last_active is not None
    before = len(sent(local_stack))
    request = ErasureStarter(settings).retire(subject_id, last_active)
    assert wait_for_execution(local_stack, request.request_id)["status"] == "SUCCEEDED"
    item = request_item(local_stack, request.request_id)
    assert "due_at" not in item
    assert "open_kind" not in item
    assert item["notices"] == {
        "erasure_completion": {
            "status": "not_sent",
            "reason": "retention",
            "at": item["notices"]["erasure_completion"]["at"],
        }
    }
    assert len(sent(local_stack)) == before


def test_a_notice_that_fails_is_recorded_never_raised_and_never_sent_twice(
    local_stack: LocalStack, customer: Customer, settings: Any
) -> None:
    from custody.deadlines.register import RequestsRegister
    from custody.notices.mailer import Notices

    assert customer.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
    change = {"field": "legal_name", "value": "Quilliam Zephyrine-Ode", "reason": "Zephyrine wedding"}
    change_id = customer.call("POST", "/v1/me/change-requests", change).body["change_request_id"]
    opened = customer.call("POST", "/v1/me/change-requests", {**change, "value": "Quilliam Zephyrine-Ode II"})
    other_id = opened.body["change_request_id"]
    values = {"request_id": change_id, "kind": "correction of your data", "completed_date": "2026-12-01"}
    values["outcome"] = "the correction was made"
    before = len(sent(local_stack))  # the two receipts are sent: nothing after this may be
    # SES refuses an unverified sender: the outcome is recorded, with SES's code and nothing of its message.
    refused = Notices(settings.model_copy(update={"notice_sender": "nobody@unverified.example"}))
    outcome = refused.send(change_id, NoticeKind.COMPLETION, customer.email, values)
    assert (outcome.status, outcome.reason) == ("failed", "MessageRejected")
    notice = request_item(local_stack, change_id)["notices"]["completion"]
    assert (notice["status"], notice["reason"]) == ("failed", "MessageRejected")
    assert customer.email not in json.dumps(notice)
    # Claimed once: asking again sends nothing, whoever asks.
    assert Notices(settings).send(change_id, NoticeKind.COMPLETION, customer.email, values).status == "already_claimed"
    assert len(sent(local_stack)) == before
    # A notice about no request is a failure, and no record is made for it.
    unknown = str(uuid.uuid4())
    missing = Notices(settings).send(unknown, NoticeKind.COMPLETION, customer.email, {**values, "request_id": unknown})
    assert (missing.status, missing.reason) == ("failed", "LookupError")
    assert request_item(local_stack, unknown) == {}
    # Data outside the template's shapes is refused before anything is sent (and recorded as such).
    other = RequestsRegister(settings)
    bad = other.notices.send(
        other_id, NoticeKind.COMPLETION, customer.email, {**values, "request_id": other_id, "outcome": customer.email}
    )
    assert (bad.status, bad.reason) == ("failed", "invalid_data")
    assert len(sent(local_stack)) == before
