"""Invoices staff record for a customer, kept under the tax-records obligation, and read under a grant.

An invoice is a record a legal obligation keeps (`datamap.category("invoices").obligation`): tax and
commercial law oblige the controller to keep it for years, whatever the customer later withdraws. So it
is sealed from the moment it is written with the customer's key for that obligation (`retained#<name>`,
`custody.crypto.keyring`), not their main key: a full erasure shreds the main key and keeps this one,
and the records stay readable — to a privacy officer under a `legal_obligation` grant only — until the
obligation's period ends. Each invoice carries, in plain, the last day the obligation keeps it
(`kept_until`, from its issue date and `Settings.jurisdiction`: `custody.declared.retention`) and a TTL
at the end of that day, so DynamoDB removes it then even if nobody asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any, Final

from custody.access_control.principals import StaffMember
from custody.audit.ledger import AuditLedger
from custody.crypto import sealed
from custody.crypto.cipher import SubjectKey
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.declared import clock, datamap, retention
from custody.declared.clock import now_iso
from custody.declared.errors import Forbidden, InvalidInput
from custody.declared.settings import Settings
from custody.platform import paging
from custody.staff_access.grants import AccessGrants
from custody.staff_access.views import check_still_justified
from custody.stores import dynamo
from custody.stores.invoices import KEPT_UNTIL, SORT_KEY, TABLE, InvoicesTable
from custody.stores.subjects import Subject, SubjectRegistry

STORE: Final = TABLE
CATEGORY: Final = datamap.category("invoices")
OBLIGATION: Final = datamap.obligation(CATEGORY.obligation or "")
TTL_ATTRIBUTE: Final = datamap.ttl_attribute(STORE)


def kept_until(issued_on: date, settings: Settings) -> date:
    """The last day the obligation keeps an invoice issued on `issued_on`, under `settings.jurisdiction`."""
    return retention.obligation_ends(OBLIGATION, settings.jurisdiction, issued_on)


class Invoices:
    """Invoices of customers under `settings`, sealed with each customer's key for the tax-records obligation.

    `keyring` defaults to the process-wide one. DynamoDB and KMS errors pass through as botocore's
    `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.invoices = InvoicesTable(settings)
        self.grants = AccessGrants(settings)
        self.subjects = SubjectRegistry(settings)
        self.keyring = keyring or get_keyring()

    def record(self, staff: StaffMember, customer_id: str, grant_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Record an invoice (`values`: the category's fields, `issued_on` an ISO date) under `staff`'s grant.

        Returns `{invoice_key, created_at, kept_until, obligation}`. The write is one transaction with the
        subject's consent-version guard (and, for a first invoice, the customer's new key for the
        obligation). Raises `InvalidInput` for an issue date in the future, `Forbidden` when the grant is
        not usable, its purpose does not justify invoices (a `legal_obligation` grant reads, never
        writes) or the customer is not active, `ProcessingRestricted` (a `Forbidden`) while the customer
        has restricted processing, `ConsentRequired` when the purpose was withdrawn, and
        `Conflict` when the subject kept changing under it.
        """
        issued_on = date.fromisoformat(str(values["issued_on"]))
        if issued_on > clock.now().date():
            raise InvalidInput(
                "The invoice is not valid.", {"fields": [{"field": "issued_on", "reason": "must not be in the future"}]}
            )
        grant = self.grants.usable(staff, customer_id, grant_id)
        if grant.purpose not in CATEGORY.purposes:
            raise Forbidden(
                "This grant's purpose does not justify recording invoices.",
                {"reason": "purpose_does_not_justify", "purpose": grant.purpose},
            )
        check_still_justified(grant, self.subjects)
        until = kept_until(issued_on, self.settings)
        recorded = self.subjects.guarded(
            customer_id, lambda subject: self._write(subject, staff, grant_id, values, until)
        )
        AuditLedger(self.settings).record(
            step="invoice_recorded",
            target=f"invoice/{recorded['invoice_key']}",
            outcome="recorded",
            actor=staff.actor,
            subject_id=customer_id,
            counts={STORE: 1},
        )
        return recorded

    def _write(
        self, subject: Subject, staff: StaffMember, grant_id: str, values: dict[str, Any], until: date
    ) -> dict[str, Any]:
        subject.ensure_active()
        subject.ensure_unrestricted()
        pending = self.keyring.for_write(subject.subject_id, OBLIGATION.key_version)
        at = now_iso()
        key = f"{at}#{uuid.uuid4()}"
        item = {
            "subject_id": subject.subject_id,
            SORT_KEY: key,
            "created_at": at,
            "recorded_by": staff.staff_id,
            "grant_id": grant_id,
            KEPT_UNTIL: until.isoformat(),
            TTL_ATTRIBUTE: int(retention.end_of_day(until).timestamp()),
            sealed.FIELDS: sealed.seal(pending.key, STORE, key, values),
        }
        dynamo.transact(
            [
                self.invoices.add(item),
                # Guards the consent version and the restriction: an invoice cannot slip in after a
                # withdrawal or a restriction (GDPR art. 18) it raced.
                self.subjects.touch(subject, unrestricted=True),
                *([pending.put] if pending.put else []),
            ]
        )
        self.keyring.committed(pending)
        return {"invoice_key": key, "created_at": at, "kept_until": until.isoformat(), "obligation": OBLIGATION.name}

    def page(self, staff: StaffMember, customer_id: str, grant_id: str, cursor: str | None) -> dict[str, Any]:
        """A page of the customer's invoices under `staff`'s grant `grant_id`, which must cover invoices.

        Under a `crm_core` grant while the customer is active; after their full erasure, under a
        `legal_obligation` grant only (a privacy officer's). Returns `{customer_id, grant_id, purpose,
        obligation, legal_basis, invoices, count, next_cursor}`: invoices oldest first, each its key, when
        recorded, `kept_until` and its fields opened with the customer's key for the obligation, at most
        `paging.PAGE_BUDGET_BYTES` on the wire; `count` on a first page (no cursor), None after. Each page
        is a read in the customer's access log and the audit ledger. Raises `Forbidden` (no usable grant of
        theirs, a grant without invoices, customer not active or retained), `ConsentRequired` (purpose
        withdrawn) and `MalformedRequest` (a cursor not issued for invoices).
        """
        grant = self.grants.usable(staff, customer_id, grant_id)
        if CATEGORY.name not in grant.categories:
            raise Forbidden("This grant does not cover invoices.", {"reason": "category_not_granted"})
        after = paging.decode(STORE, cursor)
        check_still_justified(grant, self.subjects)
        found = paging.take(STORE, self._entries(customer_id, after), paging.PAGE_BUDGET_BYTES)
        count = self.invoices.count(customer_id) if after is None else None
        self.grants.record_read(staff, grant, (CATEGORY.name,), "staff_read")
        return {
            "customer_id": customer_id,
            "grant_id": grant.grant_id,
            "purpose": grant.purpose,
            "obligation": OBLIGATION.name,
            "legal_basis": OBLIGATION.legal_basis,
            "invoices": found.items,
            "count": count,
            "next_cursor": found.next_cursor,
        }

    def _entries(self, customer_id: str, after: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(position, invoice as shown) past `after`; the key is unwrapped once, at the first invoice."""
        key: SubjectKey | None = None
        for item in self.invoices.items(customer_id, after):
            key = key or self.keyring.get(customer_id, OBLIGATION.key_version)
            position = str(item[SORT_KEY])
            yield (
                position,
                {
                    "invoice_key": position,
                    "recorded_at": item.get("created_at"),
                    "kept_until": item.get(KEPT_UNTIL),
                    **sealed.unseal(key, STORE, position, item[sealed.FIELDS]),
                },
            )
