"""Disclosures to sub-processors, recorded only when an agreement and the customer's consent allow them.

The agreement must be active and cover the categories and their purposes, and the customer must
grant `sharing:<processor_id>` and not have restricted processing: a disclosure is processing GDPR art.
18(2) does not allow while a restriction lasts, and the write requires no restriction in its own
transaction, so one that raced a restriction does not land after it.

The record goes into the customer's `disclosures` store (they see it in their access report),
and the processor's id onto their subject record in the same transaction: erasure deletes the
disclosures store before it notifies the sub-processors, and must still know whom to notify.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from custody.access_control.principals import StaffMember, categories_count
from custody.audit.ledger import AuditLedger
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import ConsentRequired, Forbidden, InvalidInput
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.disclosures import TABLE, DisclosuresTable
from custody.stores.subjects import Subject, SubjectRegistry, SubjectStatus
from custody.subprocessors.registry import Agreement, ProcessorRegistry, disclosable

STORE: Final = TABLE


class Disclosures:
    """Disclosures of customers' data to sub-processors under `settings`, recorded with the customer.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.disclosures = DisclosuresTable(settings)
        self.registry = ProcessorRegistry(settings)
        self.subjects = SubjectRegistry(settings)

    def disclose(
        self, staff: StaffMember, customer_id: str, processor_id: str, categories: list[str]
    ) -> dict[str, Any]:
        """Record that `staff` disclosed `categories` of `customer_id` to `processor_id`; returns the record.

        The record is `{disclosure_key, processor_id, categories, agreement_version, disclosed_by,
        disclosed_at, customer_id}`: names and ids, no values. Raises `InvalidInput` for categories that
        cannot be disclosed, `Forbidden` without an active agreement covering them, for a customer who
        is not active, or when no purpose both agreed and granted justifies a category,
        `ProcessingRestricted` while the customer has restricted processing (GDPR art. 18),
        `ConsentRequired` without `sharing:<processor_id>`, and `Conflict` when the subject kept
        changing under it.
        """
        wanted = tuple(sorted(set(categories)))
        if not wanted or any(name not in disclosable() for name in wanted):
            raise InvalidInput(
                "The disclosure is not valid.",
                {"fields": [{"field": "categories", "reason": f"each must be one of {list(disclosable())}"}]},
            )
        agreement = self._check(processor_id, wanted, self.subjects.load(customer_id))
        disclosed = self.subjects.guarded(
            customer_id, lambda subject: self._write(subject, staff, processor_id, wanted, agreement.version)
        )
        AuditLedger(self.settings).record(
            step="disclosure",
            target=f"processor/{agreement.processor_id}:{agreement.version}",
            outcome="disclosed",
            actor=staff.actor,
            subject_id=customer_id,
            counts=categories_count(wanted),
            processor=agreement,
        )
        return disclosed

    def _check(self, processor_id: str, wanted: tuple[str, ...], subject: Subject) -> Agreement:
        """The active agreement that covers the disclosure; `Forbidden`/`ConsentRequired` (403) otherwise."""
        agreement = self.registry.get(processor_id)
        if agreement is None or not agreement.active:
            raise Forbidden("No active agreement with this sub-processor.", {"reason": "no_active_agreement"})
        uncovered = [name for name in wanted if name not in agreement.categories]
        if uncovered:
            raise Forbidden(
                "The agreement does not cover these categories.",
                {"reason": "not_covered", "categories": uncovered},
            )
        if not subject.exists or subject.status is not SubjectStatus.ACTIVE:
            raise Forbidden("This customer's data is not available.", {"reason": "no_active_customer"})
        subject.ensure_unrestricted()
        sharing = datamap.SHARING_PREFIX + processor_id
        if sharing not in subject.purposes:
            raise ConsentRequired([sharing])
        unjustified = [
            name
            for name in wanted
            if not set(datamap.category(name).purposes) & set(agreement.purposes) & subject.purposes
        ]
        if unjustified:
            raise Forbidden(
                "No purpose both agreed and granted justifies these categories.",
                {"reason": "purpose_not_covered", "categories": unjustified},
            )
        return agreement

    def _write(
        self, subject: Subject, staff: StaffMember, processor_id: str, wanted: tuple[str, ...], version: str
    ) -> dict[str, Any]:
        self._check(processor_id, wanted, subject)
        at = now_iso()
        item = {
            "subject_id": subject.subject_id,
            "disclosure_key": f"{at}#{uuid.uuid4()}",
            "processor_id": processor_id,
            "categories": list(wanted),
            "agreement_version": version,
            "disclosed_by": staff.staff_id,
            "disclosed_at": at,
        }
        dynamo.transact(
            [
                self.disclosures.add(item),
                self.subjects.touch(subject, add_disclosed_to=processor_id, unrestricted=True),
            ]
        )
        return {key: value for key, value in item.items() if key != "subject_id"} | {"customer_id": subject.subject_id}
