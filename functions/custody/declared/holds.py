"""Legal holds: why a privacy officer may pause a customer's erasure, declared once.

A legal hold (`PUT /v1/staff/customers/{customer_id}/legal-hold`, privacy officers only) says that a
customer's data may be needed to establish, exercise or defend legal claims, or must be kept for an
authority: GDPR art. 17(3)(b) and (e) set aside the right to erasure "to the extent that processing is
necessary" for them. While it lasts, an erasure of any cause (a withdrawal, a purpose withdrawal, the
retention sweep's) is recorded and accepted but does not start; it starts when the hold is lifted or
its `until` day has ended (`custody.erasure.holds`).

The officer names a reason by its code (`REASONS`), a ticket reference and the last day of the hold;
never free text: the code and the day are what the ledger, the request and the customer are told. A
hold ends at the latest `MAX_HOLD_DAYS` after it is placed; it is placed again (with a new `until`) to
extend it, which makes the officer review it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True)
class HoldReason:
    """A declared reason for a legal hold: its code, what it means, and the provision that allows it."""

    code: str
    description: str
    legal_source: str


REASONS: Final[Mapping[str, HoldReason]] = MappingProxyType(
    {
        reason.code: reason
        for reason in (
            HoldReason(
                "litigation",
                "A claim involving the customer is before a court, or reasonably expected.",
                "GDPR art. 17(3)(e): establishment, exercise or defence of legal claims",
            ),
            HoldReason(
                "dispute",
                "A dispute with the customer (a complaint, a chargeback, a contested invoice) is not settled.",
                "GDPR art. 17(3)(e): establishment, exercise or defence of legal claims",
            ),
            HoldReason(
                "regulatory_investigation",
                "A supervisory or sector authority investigates matters the customer's data bears on.",
                "GDPR art. 17(3)(b): compliance with a legal obligation (an authority's order to preserve)",
            ),
            HoldReason(
                "tax_audit",
                "A tax audit covers the customer's transactions.",
                "GDPR art. 17(3)(b): compliance with a legal obligation (the tax authority's audit)",
            ),
        )
    }
)
# The longest a hold may run before an officer must place it again (review it), in days.
MAX_HOLD_DAYS: Final = 1095


def reason(code: str) -> HoldReason:
    """The declared hold reason of `code`; raises `KeyError` when none is."""
    return REASONS[code]
