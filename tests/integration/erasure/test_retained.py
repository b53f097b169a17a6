"""A withdrawal keeps what a legal obligation keeps, sealed with its own key, readable by a privacy officer only.

The customer holds everything and some invoices (the data map's category under the tax-records
obligation). Their withdrawal erases every other category, shreds the main key, deletes the identity and
certifies it; the invoices stay, sealed with the customer's retained key, and the customer is told what was
kept, why and until when. The expectations iterate over the data map's obligations.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.crypto import sealed
from custody.crypto.cipher import SubjectKey
from custody.crypto.keyring import KEY_VERSION, SubjectKeyring
from custody.declared import datamap
from custody.declared.errors import DecryptionFailed, SubjectKeyUnavailable
from custody.declared.notices import NoticeKind
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.subjects import SubjectRegistry, SubjectStatus
from devstack.residue import residue
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import SUBMITTED_VALUES, Customer, history, wait_for_execution
from tests.integration.retained import (
    INVOICE_VALUES,
    INVOICES,
    expected_until,
    grant,
    retained_residue,
    staff_member,
    with_invoices,
)
from tests.integration.staff.conftest import audit_events, footprint

RETAINED = tuple(category.name for category in datamap.retained_categories())


def _withdraw(stack: LocalStack, customer: Customer) -> dict[str, Any]:
    accepted = customer.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    described = wait_for_execution(stack, accepted.body["request_id"])
    assert described["status"] == "SUCCEEDED", json.dumps(history(stack, described["executionArn"]))[-3000:]
    status = customer.call("GET", f"/v1/requests/{accepted.body['request_id']}")
    assert status.status == 200, status.text
    body: dict[str, Any] = status.body
    return body


def _request(stack: LocalStack, request_id: str) -> dict[str, Any]:
    found = stack.clients("dynamodb").get_item(
        TableName=stack.resources.tables["requests"], Key={"request_id": {"S": request_id}}, ConsistentRead=True
    )
    return dynamo.from_item(found["Item"])


@pytest.fixture
def retained(local_stack: LocalStack, settings: Settings, customer: Customer) -> tuple[Customer, dict[str, Any]]:
    """A customer holding everything and two invoices, who withdrew: the erasure is certified."""
    customer.fill(documents=1)
    with_invoices(local_stack, customer)
    return customer, _withdraw(local_stack, customer)


def test_a_withdrawal_keeps_exactly_what_an_obligation_keeps_and_certifies_the_rest(
    local_stack: LocalStack, settings: Settings, retained: tuple[Customer, dict[str, Any]]
) -> None:
    customer, status = retained
    until = expected_until(settings)
    assert status["status"] == "completed"
    assert status["retained"] == [
        {
            "category": name,
            "obligation": datamap.category(name).obligation,
            "legal_basis": datamap.obligation(str(datamap.category(name).obligation)).legal_basis,
            "until": until[name],
        }
        for name in RETAINED
    ]
    # Kept: the retained categories' records, their key, the record's retention attributes; nothing else.
    assert residue(local_stack.clients, local_stack.resources, customer.subject_id) == retained_residue(len(INVOICES))
    subject = SubjectRegistry(settings).load(customer.subject_id)
    assert subject.status is SubjectStatus.RETAINED
    assert subject.retained == {str(datamap.category(name).obligation): until[name] for name in RETAINED}

    item = _request(local_stack, status["request_id"])
    certificate = item["certificate"]
    assert set(certificate["scope"]) == {category.name for category in datamap.CATEGORIES} - set(RETAINED)
    assert certificate["subject_status"] == "retained"
    assert certificate["keys_shredded"] == [KEY_VERSION]
    assert [entry["category"] for entry in certificate["retained"]] == list(RETAINED)
    for entry in certificate["retained"]:
        obligation = datamap.obligation(entry["obligation"])
        assert (entry["legal_basis"], entry["key_version"], entry["items"], entry["until"]) == (
            obligation.legal_basis,
            obligation.key_version,
            len(INVOICES),
            until[entry["category"]],
        )
    verification = verify(AuditorReader(settings, local_stack.clients).chain(status["request_id"]))
    assert verification.findings == ()
    assert verification.certificate_digest == item["certificate_digest"]

    execution = wait_for_execution(local_stack, item["request_id"])["executionArn"]
    text = json.dumps([item, status, history(local_stack, execution)], default=str)
    for value in (*SUBMITTED_VALUES, *INVOICE_VALUES):
        assert value not in text


def test_the_ledger_records_what_was_kept_why_and_until_when_for_the_notice(
    local_stack: LocalStack, settings: Settings, retained: tuple[Customer, dict[str, Any]]
) -> None:
    customer, status = retained
    chain = AuditorReader(settings, local_stack.clients).chain(status["request_id"])
    kept = [event for event in chain.latest_events() if event.step == "records_retained"]
    until = expected_until(settings)
    obligations = {str(category.obligation) for category in datamap.retained_categories()}
    assert sorted(event.target for event in kept) == sorted(
        f"obligation/{name}:{max(until[c.name] for c in datamap.categories_under(name))}" for name in obligations
    )
    for event in kept:
        obligation = event.target.split("/", 1)[1].split(":", 1)[0]
        assert event.outcome == "retained"
        assert event.counts == {category.name: len(INVOICES) for category in datamap.categories_under(obligation)}
    assert customer.email not in json.dumps([event.body() for event in kept])


def test_kept_records_open_only_with_the_retained_key(
    local_stack: LocalStack, settings: Settings, retained: tuple[Customer, dict[str, Any]]
) -> None:
    customer, _ = retained
    keyring = SubjectKeyring(settings)
    with pytest.raises(SubjectKeyUnavailable):
        keyring.get(customer.subject_id)  # the main key is shredded
    for category in datamap.retained_categories():
        version = datamap.obligation(str(category.obligation)).key_version
        key = keyring.get(customer.subject_id, version)
        store = datamap.store(category.store)
        assert isinstance(store, datamap.TableStore)
        items = dynamo.query_partition(settings.table(store.name), store.partition_key, customer.subject_id)
        opened = [sealed.unseal(key, store.name, str(item[store.sort_key]), item[sealed.FIELDS]) for item in items]
        assert sorted(entry["invoice_number"] for entry in opened) == sorted(i["invoice_number"] for i in INVOICES)
        for item in dynamo.query_partition(settings.table(store.name), store.partition_key, customer.subject_id):
            assert all(str(value).startswith("cc1.") for value in item[sealed.FIELDS].values())
            another = SubjectKey(customer.subject_id, os.urandom(32), version)  # the same customer, another key
            with pytest.raises(DecryptionFailed):
                sealed.unseal(another, store.name, str(item[store.sort_key]), item[sealed.FIELDS])


def test_only_a_privacy_officer_with_the_legal_purpose_reads_the_kept_records(
    local_stack: LocalStack, settings: Settings, retained: tuple[Customer, dict[str, Any]]
) -> None:
    customer, _ = retained
    path = f"/v1/staff/customers/{customer.subject_id}/invoices"
    support, officer, other_officer = (
        staff_member(local_stack, "support"),
        staff_member(local_stack, "privacy_officer"),
        staff_member(local_stack, "privacy_officer"),
    )
    asked = {"customer_id": customer.subject_id, "ticket": "LEG-77", "categories": list(RETAINED)}
    # The customer's consent is gone with them: no ordinary purpose reaches the kept records.
    refused = support.call("POST", "/v1/staff/access-grants", {**asked, "purpose": datamap.CRM_CORE})
    assert refused.status == 403, refused.text
    # The legal purpose is a privacy officer's only, and on kept categories only.
    assert support.call("POST", "/v1/staff/access-grants", {**asked, "purpose": datamap.LEGAL_OBLIGATION}).status == 403
    wrong = officer.call(
        "POST", "/v1/staff/access-grants", {**asked, "purpose": datamap.LEGAL_OBLIGATION, "categories": ["identity"]}
    )
    assert wrong.status == 422, wrong.text
    before = footprint(local_stack, customer.subject_id)
    assert before["staff_access"] == []

    made = grant(officer, customer.subject_id, datamap.LEGAL_OBLIGATION, list(RETAINED))
    page = officer.call("GET", f"{path}?grant_id={made['grant_id']}")
    assert page.status == 200, page.text
    assert page.body["count"] == len(INVOICES)
    assert sorted(entry["invoice_number"] for entry in page.body["invoices"]) == sorted(
        invoice["invoice_number"] for invoice in INVOICES
    )
    assert page.body["legal_basis"] == datamap.obligation(str(datamap.category(RETAINED[0]).obligation)).legal_basis
    # Someone else's grant is no grant; an officer's grant is of no use to support.
    assert other_officer.call("GET", f"{path}?grant_id={made['grant_id']}").status == 403
    assert support.call("GET", f"{path}?grant_id={made['grant_id']}").status == 403
    # Audited: the grant and the read, in the ledger (ids and names) and in the customer's access log.
    events = audit_events(local_stack, customer.subject_id)
    assert any(event["step"] == "staff_read" and datamap.LEGAL_OBLIGATION in event["target"] for event in events)
    logged = footprint(local_stack, customer.subject_id)["staff_access"]
    assert len(logged) == 2  # the grant and one read
    for value in INVOICE_VALUES:
        assert value not in json.dumps(events)


def test_the_customer_is_told_what_was_kept_why_and_until_when_and_nothing_more(
    local_stack: LocalStack, settings: Settings, retained: tuple[Customer, dict[str, Any]]
) -> None:
    from tests.integration.erasure.test_notices import sent_to, template_of

    customer, status = retained
    told = dict(sent_to(local_stack, customer.email))
    kept = told[template_of(local_stack, NoticeKind.RETENTION_KEPT)]
    until = expected_until(settings)
    longest = max(RETAINED, key=lambda name: until[name])
    obligation = datamap.obligation(str(datamap.category(longest).obligation))
    assert kept == {
        "request_id": status["request_id"],
        "categories": ", ".join(sorted(RETAINED)),
        "until_date": until[longest],
        "obligation": obligation.name,
        "legal_basis": obligation.legal_basis,
    }
    assert template_of(local_stack, NoticeKind.ERASURE_COMPLETION) in told
    assert _request(local_stack, status["request_id"])["notices"][NoticeKind.RETENTION_KEPT.value]["status"] == "sent"
    text = json.dumps(list(told.values()))
    for value in (*SUBMITTED_VALUES, *INVOICE_VALUES, customer.email):
        assert value not in text
