"""Orders and support tickets staff record for a customer, under a grant whose purpose justifies them.

Each interaction is sealed with the customer's key (bound to its `interaction_key`) and carries
the TTL attribute `expires_at` from the data map's retention, so DynamoDB removes it when its
retention ends even if nobody asks.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Final

from custody.access_control.principals import StaffMember
from custody.audit.ledger import AuditLedger
from custody.crypto import sealed
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import Forbidden
from custody.declared.settings import Settings
from custody.staff_access.grants import AccessGrants
from custody.staff_access.views import check_still_justified
from custody.stores import dynamo
from custody.stores.interactions import TABLE, InteractionsTable
from custody.stores.subjects import Subject, SubjectRegistry

STORE: Final = TABLE
CATEGORY: Final = datamap.category("interactions")
SECONDS_PER_DAY: Final = 86_400


TTL_ATTRIBUTE: Final = datamap.ttl_attribute(STORE)


def expires_at(now: float | None = None) -> int:
    """The interaction's TTL in epoch seconds: `now` (the clock's when None) plus the category's retention.

    DynamoDB's TTL deletes the item once that time has passed.
    """
    days = CATEGORY.retention_days or 0
    return int(now if now is not None else time.time()) + days * SECONDS_PER_DAY


class Interactions:
    """Interactions staff record for customers under `settings`, sealed with the customer's key.

    `keyring` defaults to the process-wide one. DynamoDB and KMS errors pass through as botocore's
    `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.interactions = InteractionsTable(settings)
        self.grants = AccessGrants(settings)
        self.subjects = SubjectRegistry(settings)
        self.keyring = keyring or get_keyring()

    def record(self, staff: StaffMember, customer_id: str, grant_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Record an interaction (`values`: `kind`, `summary`, `reference`) under `staff`'s grant on the customer.

        Returns `{interaction_key, created_at, expires_at}`. The write is one transaction with the
        subject's consent-version guard. Raises `Forbidden` when the grant is not usable, its purpose
        does not justify interactions or the customer is not active, `ProcessingRestricted` while the
        customer has restricted processing, `ConsentRequired` when the purpose was withdrawn, and
        `Conflict` when the subject kept changing under it.
        """
        grant = self.grants.usable(staff, customer_id, grant_id)
        if grant.purpose not in CATEGORY.purposes:
            raise Forbidden(
                "This grant's purpose does not justify recording interactions.",
                {"reason": "purpose_does_not_justify", "purpose": grant.purpose},
            )
        check_still_justified(grant, self.subjects)
        recorded = self.subjects.guarded(customer_id, lambda subject: self._write(subject, staff, grant_id, values))
        AuditLedger(self.settings).record(
            step="interaction_recorded",
            target=f"interaction/{recorded['interaction_key']}",
            outcome="recorded",
            actor=staff.actor,
            subject_id=customer_id,
            counts={STORE: 1},
        )
        return recorded

    def _write(self, subject: Subject, staff: StaffMember, grant_id: str, values: dict[str, Any]) -> dict[str, Any]:
        subject.ensure_active()
        subject.ensure_unrestricted()
        pending = self.keyring.for_write(subject.subject_id)
        at = now_iso()
        key = f"{at}#{uuid.uuid4()}"
        item = {
            "subject_id": subject.subject_id,
            "interaction_key": key,
            "created_at": at,
            "recorded_by": staff.staff_id,
            "grant_id": grant_id,
            TTL_ATTRIBUTE: expires_at(),
            sealed.FIELDS: sealed.seal(pending.key, STORE, key, values),
        }
        dynamo.transact(
            [
                self.interactions.add(item),
                # Guards the consent version and the restriction: an interaction cannot slip in after a
                # withdrawal or a restriction of processing it raced.
                self.subjects.touch(subject, unrestricted=True),
                *([pending.put] if pending.put else []),
            ]
        )
        self.keyring.committed(pending)
        return {"interaction_key": key, "created_at": at, "expires_at": item[TTL_ATTRIBUTE]}
