"""The end of a legal obligation: the sweep erases what a withdrawal kept, with a second certificate.

A customer with invoices withdraws: the invoices and their key are kept (`retained`). Before the
obligation's last day has ended the sweep leaves them; after it (the one clock moved: the workflow dates
what it does then) the sweep erases them through the same workflow — reason `retention_obligation_ended`,
admitted like every erasure — shreds the retained key and certifies it, after which nothing of the
customer remains. A legal hold on the retained customer pauses that erasure until it is lifted.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared import datamap
from custody.declared.settings import Settings
from custody.retention import disposal
from custody.stores.subjects import SubjectRegistry, SubjectStatus
from devstack.iam.enforce import acting_as
from devstack.residue import residue
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution
from tests.integration.retained import (
    INVOICE_VALUES,
    INVOICES,
    after,
    clock_at,
    expected_until,
    grant,
    retained_residue,
    staff_member,
    with_invoices,
)
from tests.robustness.finality import request_item

RETAINED = tuple(category.name for category in datamap.retained_categories())


def _retained_customer(stack: LocalStack, customer: Customer) -> str:
    """The customer holds everything and invoices, withdraws, and is certified `retained`; returns the request."""
    customer.fill()
    with_invoices(stack, customer)
    accepted = customer.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    assert wait_for_execution(stack, accepted.body["request_id"])["status"] == "SUCCEEDED"
    request_id = str(accepted.body["request_id"])
    assert request_item(stack, request_id)["certificate"]["subject_status"] == "retained"
    return request_id


def _sweep(settings: Settings, moment: Any) -> disposal.SweepReport:
    """One sweep at `moment`, as the retention function runs it (its role); call it with the clock at `moment`."""
    with acting_as("retention"):
        return disposal.RetentionSweep(settings).run(moment)


def _mine(stack: LocalStack, report: disposal.SweepReport, customer: Customer) -> list[str]:
    return [rid for rid in report.request_ids if request_item(stack, rid).get("subject_id") == customer.subject_id]


def test_the_sweep_erases_what_was_kept_once_its_obligation_ends_and_certifies_it(
    local_stack: LocalStack, settings: Settings, customer: Customer
) -> None:
    withdrawal = _retained_customer(local_stack, customer)
    officer = staff_member(local_stack, "privacy_officer")
    made = grant(officer, customer.subject_id, datamap.LEGAL_OBLIGATION, list(RETAINED))
    path = f"/v1/staff/customers/{customer.subject_id}/invoices?grant_id={made['grant_id']}"
    assert officer.call("GET", path).status == 200  # a read under the legal purpose, logged meanwhile
    last_day = max(expected_until(settings).values())

    early = after(last_day) - timedelta(days=2)
    with clock_at(early):
        before = _sweep(settings, early)  # the obligation still runs
    assert not _mine(local_stack, before, customer)
    assert SubjectRegistry(settings).load(customer.subject_id).status is SubjectStatus.RETAINED

    moment = after(last_day)
    with clock_at(moment):  # the workflow runs on that day too: it certifies then
        ended = _sweep(settings, moment)
        ending = _mine(local_stack, ended, customer)
        assert len(ending) == 1
        assert ended.retention_ended >= 1
        assert wait_for_execution(local_stack, ending[0])["status"] == "SUCCEEDED"
    item = request_item(local_stack, ending[0])
    certificate = item["certificate"]
    assert (certificate["reason"], certificate["subject_status"]) == ("retention_obligation_ended", "erased")
    assert set(certificate["scope"]) >= set(RETAINED) | {"staff_access"}
    assert certificate["keys_shredded"] == sorted(
        {datamap.obligation(str(category.obligation)).key_version for category in datamap.retained_categories()}
    )
    assert certificate["stores"]["invoices"] == len(INVOICES)
    assert certificate["stores"]["staff_access"] == 2  # the officer's grant and read
    assert [entry["obligation"] for entry in certificate["obligations_ended"]] == sorted(
        {str(category.obligation) for category in datamap.retained_categories()}
    )
    assert certificate["unrecoverable_after"] > certificate["completed_at"]

    # Nothing of the customer remains, and both certificates still hold, as an auditor verifies them.
    assert residue(local_stack.clients, local_stack.resources, customer.subject_id) == {}
    assert SubjectRegistry(settings).load(customer.subject_id).status is SubjectStatus.ERASED
    for request_id in (withdrawal, ending[0]):
        verification = verify(AuditorReader(settings, local_stack.clients).chain(request_id))
        assert verification.findings == (), (request_id, verification.findings)
    assert officer.call("GET", path).status == 403
    # What the customer was told of the first erasure stays true: what was kept, and until when.
    status = customer.call("GET", f"/v1/requests/{withdrawal}").body
    assert [entry["until"] for entry in status["retained"]] == [expected_until(settings)[name] for name in RETAINED]
    register = disposal.register(settings, moment - timedelta(days=1), moment + timedelta(days=1))
    (entry,) = [line for line in register if line["request_id"] == ending[0]]
    assert (entry["reason"], entry["policy"]) == ("retention_obligation_ended", "obligation-ended")
    text = json.dumps([item, status, register], default=str)
    for value in INVOICE_VALUES:
        assert value not in text

    with clock_at(moment + timedelta(days=1)):
        again = _sweep(settings, moment + timedelta(days=1))  # idempotent: nothing of it is started again
    assert not _mine(local_stack, again, customer)


def test_a_legal_hold_on_a_retained_customer_pauses_the_end_of_their_retention(
    local_stack: LocalStack, settings: Settings, customer: Customer
) -> None:
    _retained_customer(local_stack, customer)
    officer = staff_member(local_stack, "privacy_officer")
    hold_path = f"/v1/staff/customers/{customer.subject_id}/legal-hold"
    last_day = max(expected_until(settings).values())
    moment = after(last_day)
    # A tax audit comes shortly before the obligation ends, and lasts past it: the kept records stay.
    hold = {"reason_code": "tax_audit", "ticket": "TAX-2031", "until": (moment + timedelta(days=30)).date().isoformat()}
    with clock_at(moment - timedelta(days=10)):
        placed = officer.call("PUT", hold_path, hold)
    assert placed.status == 200, placed.text
    with clock_at(moment):
        held = _sweep(settings, moment)
    assert held.held >= 1
    assert not _mine(local_stack, held, customer)
    assert SubjectRegistry(settings).load(customer.subject_id).status is SubjectStatus.RETAINED
    kept = retained_residue(len(INVOICES))
    hold_attributes = 2  # the hold and the count of its changes, beside the retention attributes
    assert residue(local_stack.clients, local_stack.resources, customer.subject_id) == {
        **kept,
        "subjects": kept["subjects"] + hold_attributes,
    }

    later = moment + timedelta(hours=1)
    with clock_at(later):
        lifted = officer.call("DELETE", hold_path)
        assert (lifted.status, lifted.body["released_requests"]) == (200, 0)
        ended = _sweep(settings, later)
        mine = _mine(local_stack, ended, customer)
        assert len(mine) == 1
        assert wait_for_execution(local_stack, mine[0])["status"] == "SUCCEEDED"
    assert residue(local_stack.clients, local_stack.resources, customer.subject_id) == {}
