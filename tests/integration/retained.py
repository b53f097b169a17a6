"""What the legal-hold and statutory-retention tests share: invoices recorded through the API, staff of each
group, the clock moved for the workflow, and the expectations the data map's obligations give.

Everything a test expects of a retained customer is derived from `datamap.OBLIGATIONS` and the categories
that carry them, never from a hand list: a category given an obligation is held to the same checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, Final

from custody.declared import clock, datamap, retention
from custody.declared.settings import Settings
from custody.stores.subjects import RETAINED_ATTRIBUTES
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer
from tests.integration.staff.conftest import Caller

INVOICES: Final = (
    {
        "invoice_number": "INV-2026-0042",
        "issued_on": "2026-03-14",
        "amount": "1299.90",
        "currency": "EUR",
        "line_summary": "Quilliam's xenobotany greenhouse",
    },
    {
        "invoice_number": "INV-2026-0043",
        "issued_on": "2026-11-30",
        "amount": "-49.00",
        "currency": "EUR",
        "line_summary": "Credit note: Zephyrine seed tray returned",
    },
)
# What the customer submitted on their invoices: none may reach a log, the ledger or a status page.
INVOICE_VALUES: Final = ("INV-2026-0042", "1299.90", "xenobotany greenhouse", "Zephyrine seed tray")


def staff_member(stack: LocalStack, group: str) -> Caller:
    """A new staff member of `group`, signed in (a unique address)."""
    return Caller(stack, stack.staff_token(f"{group}-{uuid.uuid4().hex[:8]}@staff.example", group))


def grant(caller: Caller, customer_id: str, purpose: str, categories: list[str]) -> dict[str, Any]:
    """A need-to-know grant `caller` asked for; the test fails unless it was made active."""
    body = {"customer_id": customer_id, "purpose": purpose, "ticket": "SUP-2101", "categories": categories}
    made = caller.call("POST", "/v1/staff/access-grants", body)
    assert made.status == 201, made.text
    assert made.body["status"] == "active", made.body
    granted: dict[str, Any] = made.body
    return granted


def with_invoices(stack: LocalStack, customer: Customer, invoices: tuple[dict[str, Any], ...] = INVOICES) -> list[str]:
    """Record `invoices` for the customer (who granted `crm_core`) through the staff route; returns their last days."""
    support = staff_member(stack, "support")
    grant_id = grant(support, customer.subject_id, datamap.CRM_CORE, ["invoices"])["grant_id"]
    kept = []
    for invoice in invoices:
        recorded = support.call(
            "POST", f"/v1/staff/customers/{customer.subject_id}/invoices", {"grant_id": grant_id, **invoice}
        )
        assert recorded.status == 201, recorded.text
        kept.append(str(recorded.body["kept_until"]))
    return kept


def expected_until(settings: Settings, invoices: tuple[dict[str, Any], ...] = INVOICES) -> dict[str, str]:
    """Each retained category's last day, as the data map's obligations and the jurisdiction give it."""
    found: dict[str, str] = {}
    for category in datamap.retained_categories():
        obligation = datamap.obligation(str(category.obligation))
        days = [
            retention.obligation_ends(obligation, settings.jurisdiction, date.fromisoformat(str(invoice["issued_on"])))
            for invoice in invoices
        ]
        found[category.name] = max(days).isoformat()
    return found


def retained_residue(items: int) -> dict[str, int]:
    """What `devstack.residue` finds of a customer a full erasure retained: each retained category's records,
    one key per obligation (its own, never the main key), and the subject record's retention attributes."""
    found: dict[str, int] = {}
    for category in datamap.retained_categories():
        found[category.store] = found.get(category.store, 0) + items
    found["subject_keys"] = len({category.obligation for category in datamap.retained_categories()})
    found["subjects"] = len(RETAINED_ATTRIBUTES)
    return found


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """While the block runs, the one clock (`custody.declared.clock.now`) reads as if it were `moment` (and on).

    Every module reads the time through it, in every thread of the in-process stack: the workflow's steps
    date what they do then, as the deployed ones would on that day. Nothing sleeps.
    """
    real = clock.now
    ahead = moment - real()
    clock.now = lambda: real() + ahead  # type: ignore[assignment]
    try:
        yield
    finally:
        clock.now = real  # type: ignore[assignment]


def after(day: str) -> datetime:
    """An hour after the day `day` (YYYY-MM-DD) ended: when what is kept or held until then is due."""
    return retention.end_of_day(date.fromisoformat(day)) + timedelta(hours=1)
