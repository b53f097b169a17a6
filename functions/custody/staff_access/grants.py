"""Need-to-know grants: staff see a customer's data only under a grant of their own.

A grant is for a purpose, a ticket and a time box, and covers only the categories that purpose
justifies (GDPR art. 5(1)(c) and (f): data minimisation, confidentiality).

A grant is an item of the customer's `staff_access` store (`grant#<id>`); every read made under
it is another (`read#<at>#<id>`), so the customer sees both in their access report. Tickets
are references like `SUP-1234` (validated), not free text: they carry no personal data and
may appear in the access log as they are.

Sensitive and special categories (card, health) need a privacy officer's approval, never the
requester's own; the time box starts when the grant becomes usable.

While the customer has restricted processing (GDPR art. 18) no grant is requested, approved or used:
a staff member's read is processing beyond storage that art. 18(2) does not allow (no consent of the
customer's, no legal claim or other person's rights shown). An existing grant stops working too — it
was given for processing the customer has since stopped; it works again, within its time box, once the
restriction is lifted. Every such write (the grant, its approval, the access-log entry of a read)
requires no restriction in its own transaction, so none that raced a restriction lands after it.
A privacy officer's review of a rectification request is not a grant's use and stays open
(`custody.staff_access.reviews`).

Records kept under a legal obligation (`datamap.Category.obligation`: invoices) are read after the
customer's full erasure only under a grant for the purpose `legal_obligation` (GDPR art. 6(1)(c)): a
purpose no customer grants, that only a privacy officer may ask for and use, on those categories only,
on a customer who is active or `retained`. Such a grant and every read under it are in the ledger and
the customer's access log, which the erasure of the kept records erases with them.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from custody.access_control.principals import STAFF_FUNCTION, StaffMember, audited_refusals, categories_count
from custody.audit.ledger import AuditLedger
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import Conflict, ConsentRequired, Forbidden, InvalidInput, NotFound
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.staff_access import GRANT_PREFIX, TABLE, StaffAccessTable, retained_until
from custody.stores.subjects import Subject, SubjectRegistry, SubjectStatus

STORE: Final = TABLE
DEFAULT_MINUTES: Final = 60
MAX_MINUTES: Final = 480
TICKET: Final = re.compile(r"[A-Z][A-Z0-9]{1,11}-[0-9]{1,10}")
# What a staff member can be granted: the profile's categories, the interactions and the records kept
# under a legal obligation (invoices). Documents and exports are the customer's own; processing records
# are shown to the customer, not staff.
VIEWABLE: Final = tuple(
    category.name
    for category in datamap.CATEGORIES
    if category.store in ("profiles", "interactions") or category.obligation is not None
)
# The categories a `legal_obligation` grant may cover: those a legal obligation keeps.
UNDER_OBLIGATION: Final = tuple(category.name for category in datamap.retained_categories())
GRANT_PURPOSES: Final = (*datamap.PURPOSES, datamap.LEGAL_OBLIGATION)
NEEDS_APPROVAL: Final = (datamap.Sensitivity.SENSITIVE, datamap.Sensitivity.SPECIAL)


class GrantStatus(StrEnum):
    """Whether a grant may be used: `active`, or `pending_approval` by a privacy officer."""

    ACTIVE = "active"
    PENDING_APPROVAL = "pending_approval"


@dataclass(frozen=True)
class Grant:
    """A need-to-know grant: one staff member, one customer, one purpose and ticket, some categories, a time box.

    `duration_minutes` is the time box; `expires_at` (epoch seconds) is set when the grant becomes
    usable: at creation, or at approval for sensitive and special categories. `approved_by` is the
    approving officer's staff id.
    """

    grant_id: str
    subject_id: str
    staff_id: str
    purpose: str
    ticket: str
    categories: tuple[str, ...]
    status: GrantStatus
    duration_minutes: int
    created_at: str
    expires_at: int | None = None  # epoch seconds, set when the grant becomes usable
    approved_by: str | None = None

    @property
    def access_key(self) -> str:
        """The grant's sort key in the customer's `staff_access` partition: `grant#<grant id>`."""
        return GRANT_PREFIX + self.grant_id

    def to_item(self) -> dict[str, Any]:
        """The grant as its `staff_access` item, plain values; an unset expiry or approver is None (not stored)."""
        return {
            "subject_id": self.subject_id,
            "access_key": self.access_key,
            "kind": "grant",
            "grant_id": self.grant_id,
            "staff_id": self.staff_id,
            "purpose": self.purpose,
            "ticket": self.ticket,
            "categories": list(self.categories),
            "status": self.status.value,
            "duration_minutes": self.duration_minutes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "approved_by": self.approved_by,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Grant:
        """The grant a `staff_access` item holds.

        Raises `KeyError` for a missing field and `ValueError` for an unknown status.
        """
        return cls(
            grant_id=item["grant_id"],
            subject_id=item["subject_id"],
            staff_id=item["staff_id"],
            purpose=item["purpose"],
            ticket=item["ticket"],
            categories=tuple(item["categories"]),
            status=GrantStatus(item["status"]),
            duration_minutes=int(item["duration_minutes"]),
            created_at=item["created_at"],
            expires_at=None if item.get("expires_at") is None else int(item["expires_at"]),
            approved_by=item.get("approved_by"),
        )

    def view(self) -> dict[str, Any]:
        """The grant as staff are shown it: its fields with the customer as `customer_id`, without the store's keys."""
        shown = self.to_item()
        shown.pop("subject_id")
        shown.pop("access_key")
        shown.pop("kind")
        return {"customer_id": self.subject_id, **shown}


def needs_approval(categories: tuple[str, ...]) -> bool:
    """Whether any of `categories` is sensitive or special (card, health): a privacy officer must then approve."""
    return any(datamap.category(name).sensitivity in NEEDS_APPROVAL for name in categories)


def check_request(purpose: str, ticket: str, categories: list[str], duration_minutes: int) -> tuple[str, ...]:
    """Shape checks (422): what the request says, before anything about the customer.

    A purpose is one of `GRANT_PURPOSES`; a `legal_obligation` grant covers categories under a legal
    obligation only (`UNDER_OBLIGATION`).
    """
    problems = []
    if purpose not in GRANT_PURPOSES:
        problems.append({"field": "purpose", "reason": f"must be one of {list(GRANT_PURPOSES)}"})
    if not TICKET.fullmatch(ticket):
        problems.append({"field": "ticket", "reason": "must be a ticket reference like SUP-1234"})
    allowed = UNDER_OBLIGATION if purpose == datamap.LEGAL_OBLIGATION else VIEWABLE
    unknown = [name for name in categories if name not in allowed]
    if unknown or not categories:
        problems.append({"field": "categories", "reason": f"each must be one of {list(allowed)}"})
    if not 1 <= duration_minutes <= MAX_MINUTES:
        problems.append({"field": "duration_minutes", "reason": f"must be between 1 and {MAX_MINUTES}"})
    if problems:
        raise InvalidInput("The grant request is not valid.", {"fields": problems})
    return tuple(sorted(set(categories)))


def customer_unavailable() -> Forbidden:
    """The refusal of a staff action on a customer who does not exist or whose erasure has started (403)."""
    return Forbidden("This customer's data is not available to staff.", {"reason": "no_active_customer"})


def under_legal_obligation(subject: Subject) -> bool:
    """Whether a `legal_obligation` grant may be used on `subject` now: active, or retained with no erasure pending."""
    if subject.status is SubjectStatus.RETAINED:
        return subject.pending_erasure is None
    return subject.exists and not subject.erasure_started


def check_justified(purpose: str, categories: tuple[str, ...], subject: Subject) -> None:
    """The purpose must justify every category, the customer must have granted it now, and not restricted processing.

    A `legal_obligation` grant is justified by the law, not by the customer: every category must be one a
    legal obligation keeps, and the customer active or retained (`under_legal_obligation`); a restriction
    does not stop it (art. 18(2): storage, and processing the law requires or legal claims need).
    Raises `Forbidden` (no active customer, a category the purpose does not justify), `ProcessingRestricted`
    and `ConsentRequired`.
    """
    if purpose == datamap.LEGAL_OBLIGATION:
        if not under_legal_obligation(subject):
            raise customer_unavailable()
        unjustified = [name for name in categories if datamap.category(name).obligation is None]
        if unjustified:
            raise Forbidden(
                "A legal obligation keeps none of these categories.",
                {"reason": "purpose_does_not_justify", "purpose": purpose, "categories": unjustified},
            )
        return
    if not subject.exists or subject.erasure_started:
        raise customer_unavailable()
    subject.ensure_unrestricted()
    unjustified = [name for name in categories if purpose not in datamap.category(name).purposes]
    if unjustified:
        raise Forbidden(
            "The purpose does not justify these categories.",
            {"reason": "purpose_does_not_justify", "purpose": purpose, "categories": unjustified},
        )
    if purpose not in subject.purposes:
        raise ConsentRequired([purpose])


class AccessGrants:
    """Staff members' need-to-know grants under `settings`, kept in each customer's `staff_access` partition.

    Each grant, approval and read is also an audit event on the customer's chain. DynamoDB errors pass
    through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.access = StaffAccessTable(settings)
        self.subjects = SubjectRegistry(settings)
        self.ledger = AuditLedger(settings)

    def request(
        self, staff: StaffMember, customer_id: str, purpose: str, ticket: str, categories: list[str], minutes: int
    ) -> Grant:
        """Ask for a grant on `customer_id`'s data for `purpose`, `ticket`, `categories` and `minutes` (1 to 480).

        The grant is active at once for ordinary categories and pending a privacy officer's approval for
        sensitive and special ones. Raises `InvalidInput` for a malformed request (`check_request`),
        `Forbidden` when the customer is not active or the purpose does not justify a category, or when a
        caller who is not a privacy officer asks for `legal_obligation`, `ProcessingRestricted` (a
        `Forbidden`) while the customer has restricted processing, and `ConsentRequired` when the customer
        does not grant the purpose now; those refusals are audited on the customer's chain.
        """
        wanted = check_request(purpose, ticket, categories, minutes)
        with audited_refusals(
            self.settings,
            function=STAFF_FUNCTION,
            step="staff_access_grant",
            target="grant",
            actor=staff.actor,
            subject_id=customer_id,
        ):
            if purpose == datamap.LEGAL_OBLIGATION:
                staff.require_privacy_officer()
            grant = self.subjects.guarded(
                customer_id, lambda subject: self._add(subject, staff, purpose, ticket, wanted, minutes)
            )
        self._audit(staff, grant, "staff_access_grant", grant.status.value)
        return grant

    def _add(
        self, subject: Subject, staff: StaffMember, purpose: str, ticket: str, wanted: tuple[str, ...], minutes: int
    ) -> Grant:
        """Record the grant, fenced: refused once the customer's erasure started or their consents moved."""
        check_justified(purpose, wanted, subject)
        approval = needs_approval(wanted)
        grant = Grant(
            grant_id=str(uuid.uuid4()),
            subject_id=subject.subject_id,
            staff_id=staff.staff_id,
            purpose=purpose,
            ticket=ticket,
            categories=wanted,
            status=GrantStatus.PENDING_APPROVAL if approval else GrantStatus.ACTIVE,
            duration_minutes=minutes,
            created_at=now_iso(),
            expires_at=None if approval else int(time.time()) + minutes * 60,
        )
        # A pending grant is kept as if approved now: approval moves its TTL past its real expiry.
        usable_until = grant.expires_at or int(time.time()) + minutes * 60
        put = self.access.new_grant(grant.to_item(), retained_until(usable_until))
        legal = purpose == datamap.LEGAL_OBLIGATION
        retained = subject.status is SubjectStatus.RETAINED
        dynamo.transact([put, self.subjects.fence(subject, unrestricted=not legal, retained=retained)])
        return grant

    def approve(self, officer: StaffMember, customer_id: str, grant_id: str) -> Grant:
        """A privacy officer approves a pending grant: it becomes active and its time box starts now.

        Raises `Forbidden` for a caller who is not a privacy officer or who requested the grant (two
        people, always), `ProcessingRestricted` while the customer has restricted processing, `NotFound` for
        no such grant of that customer, and `Conflict` when the grant is not pending (or stopped being so
        meanwhile). Refusals are audited.
        """
        with audited_refusals(
            self.settings,
            function=STAFF_FUNCTION,
            step="staff_access_approval",
            target=f"grant/{grant_id}",
            actor=officer.actor,
            subject_id=customer_id,
        ):
            officer.require_privacy_officer()
            grant = self.load(customer_id, grant_id)
            if grant is None:
                raise NotFound("No such grant for this customer.")
            if grant.staff_id == officer.staff_id:
                raise Forbidden("A grant is approved by another privacy officer, never its requester.")
            if grant.status is not GrantStatus.PENDING_APPROVAL:
                raise Conflict("This grant is not awaiting approval.", {"status": grant.status.value})
            expires_at = int(time.time()) + grant.duration_minutes * 60
            self.subjects.guarded(customer_id, lambda subject: self._approve(subject, officer, grant, expires_at))
        approved = replace(grant, status=GrantStatus.ACTIVE, expires_at=expires_at, approved_by=officer.staff_id)
        self._audit(officer, approved, "staff_access_approval", "approved")
        return approved

    def _approve(self, subject: Subject, officer: StaffMember, grant: Grant, expires_at: int) -> None:
        if subject.erasure_started:
            raise customer_unavailable()
        subject.ensure_unrestricted()
        approval = self.access.approval(
            grant.subject_id,
            grant.grant_id,
            pending=GrantStatus.PENDING_APPROVAL.value,
            active=GrantStatus.ACTIVE.value,
            officer=officer.staff_id,
            at=now_iso(),
            expires_at=expires_at,
        )
        try:
            dynamo.transact([approval, self.subjects.fence(subject, unrestricted=True)])
        except dynamo.TransactionConflict as conflict:
            if conflict.failed_at(0):
                raise Conflict("This grant is not awaiting approval.") from None
            raise

    def load(self, customer_id: str, grant_id: str) -> Grant | None:
        """The customer's grant `grant_id`, or None."""
        item = self.access.grant(customer_id, grant_id)
        return Grant.from_item(item) if item else None

    def usable(self, staff: StaffMember, customer_id: str, grant_id: str) -> Grant:
        """The caller's own, approved, unexpired grant — else 403 with the reason's name only.

        A `legal_obligation` grant is usable by a privacy officer only (one who left the group keeps no use).
        """
        grant = self.load(customer_id, grant_id)
        if grant is None or grant.staff_id != staff.staff_id:
            raise Forbidden("No grant of yours covers this customer.", {"reason": "no_grant"})
        if grant.purpose == datamap.LEGAL_OBLIGATION and not staff.is_privacy_officer:
            raise Forbidden("Only a privacy officer may use this grant.", {"reason": "no_grant"})
        if grant.status is not GrantStatus.ACTIVE:
            raise Forbidden("This grant awaits a privacy officer's approval.", {"reason": "pending_approval"})
        if grant.expires_at is None or grant.expires_at <= time.time():
            raise Forbidden("This grant has expired.", {"reason": "expired"})
        return grant

    def record_read(self, staff: StaffMember, grant: Grant, categories: tuple[str, ...], step: str) -> str:
        """The customer's access log entry for one read: who, when, purpose, ticket, categories.

        Fenced: raises `Forbidden` once the customer's erasure has started, `ProcessingRestricted` once they
        restricted processing, and `ConsentRequired` when the grant's purpose was withdrawn — what was read
        is then not shown.
        """
        at = now_iso()
        values = {
            "staff_id": staff.staff_id,
            "grant_id": grant.grant_id,
            "purpose": grant.purpose,
            "ticket": grant.ticket,
            "categories": list(categories),
            "at": at,
        }
        self.log_read(grant.subject_id, values, grant.purpose, unrestricted=True)
        self.ledger.record(
            step=step,
            target=f"grant/{grant.grant_id}:{grant.purpose}",
            outcome="read",
            actor=staff.actor,
            subject_id=grant.subject_id,
            counts=categories_count(categories),
        )
        return at

    def log_read(
        self, customer_id: str, values: dict[str, Any], purpose: str | None = None, *, unrestricted: bool = False
    ) -> None:
        """Write one read into the customer's access log, fenced by their record (and `purpose`, when given).

        Raises `Forbidden` once the customer's erasure has started, `ConsentRequired` when `purpose` is
        no longer granted, and — with `unrestricted` (a read under a grant) — `ProcessingRestricted` once the
        customer restricted processing, checked in the write's own transaction too. A read under
        `legal_obligation` is logged on an active or a retained customer (`under_legal_obligation`), whatever
        they granted.
        """
        read_id = str(uuid.uuid4())
        legal = purpose == datamap.LEGAL_OBLIGATION

        def attempt(subject: Subject) -> None:
            if legal and not under_legal_obligation(subject):
                raise customer_unavailable()
            if not legal and (subject.erasure_started or not subject.exists):
                raise customer_unavailable()
            if not legal and (subject.erasure_started or not subject.exists):
                raise customer_unavailable()
            if unrestricted and not legal:
                subject.ensure_unrestricted()
            if purpose is not None and not legal and purpose not in subject.purposes:
                raise ConsentRequired([purpose])
            entry = self.access.read_entry(customer_id, str(values["at"]), read_id, values, read_at=time.time())
            retained = subject.status is SubjectStatus.RETAINED
            fence = self.subjects.fence(subject, unrestricted=unrestricted and not legal, retained=retained)
            dynamo.transact([entry, fence])

        self.subjects.guarded(customer_id, attempt)

    def _audit(self, staff: StaffMember, grant: Grant, step: str, outcome: str) -> None:
        self.ledger.record(
            step=step,
            target=f"grant/{grant.grant_id}:{grant.purpose}",
            outcome=outcome,
            actor=staff.actor,
            subject_id=grant.subject_id,
            counts=categories_count(grant.categories),
        )
