"""Privacy officers review change requests to verified fields.

The review queue is a Query of the sparse `pending` index (ids and field names only). To
decide, an officer opens one customer's pending requests: the requested values are decrypted
for them and that opening is recorded in the customer's access log, like any staff read.

A decision is one `TransactWriteItems`: approval writes the new value into the sealed identity
item, bumps the profile version and closes the request; rejection closes the request. Both
keep the officer's reason, sealed with the customer's key.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from custody.access_control.principals import STAFF_FUNCTION, StaffMember, audited_refusals
from custody.audit.ledger import AuditLedger
from custody.crypto import sealed
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.customers.change_requests import STORE, ChangeStatus
from custody.customers.profile import ProfileService
from custody.deadlines.register import RequestsRegister
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import Conflict, ConsentRequired, NotFound
from custody.declared.settings import Settings
from custody.staff_access.grants import AccessGrants, customer_unavailable
from custody.stores import dynamo
from custody.stores.change_requests import ChangeRequestsTable
from custody.stores.identities import CustomerIdentity
from custody.stores.subjects import Subject, SubjectRegistry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

IDENTITY: Final = "identity"
REVIEW_PURPOSE: Final = "rectification_review"  # GDPR art. 16: the customer asked for it


class Decision(StrEnum):
    """A privacy officer's decision on a change request."""

    APPROVE = "approve"
    REJECT = "reject"


class ChangeReviews:
    """Privacy officers' review of change requests under `settings` (`keyring`, the process-wide one by default).

    DynamoDB and KMS errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.requests = ChangeRequestsTable(settings)
        self.profiles = ProfileService(settings, keyring)
        self.grants = AccessGrants(settings)
        self.subjects = SubjectRegistry(settings)
        self.keyring = keyring or get_keyring()
        self.ledger = AuditLedger(settings)

    def queue(self, limit: int = 100) -> list[dict[str, Any]]:
        """Pending requests, oldest first, from the sparse index: never a Scan."""
        return [
            {
                "customer_id": item["subject_id"],
                "change_request_id": item["change_request_id"],
                "field": item.get("field"),
                "created_at": item.get("created_at"),
            }
            for item in self.requests.pending(ChangeStatus.PENDING.value, limit)
        ]

    def open_for(self, officer: StaffMember, customer_id: str) -> list[dict[str, Any]]:
        """One customer's pending requests with their values, recorded in the customer's access log.

        Raises `Forbidden` unless `officer` is a privacy officer (the route's groups say so too), and
        once the customer's erasure has started (during it and after its certificate alike). A customer who
        restricted processing (GDPR art. 18) is still reviewed — verifying the accuracy they contest is what
        art. 18(1)(a) restricts for, and the rectification is their own request (art. 16) — and each entry
        says `restricted` (never the ground).
        """
        officer.require_privacy_officer()
        subject = self.subjects.load(customer_id)
        if subject.erasure_started:
            raise customer_unavailable()
        found = [item for item in self.requests.items(customer_id) if item.get("status") == ChangeStatus.PENDING.value]
        if not found:
            return []
        key = self.keyring.get(customer_id)
        shown = []
        for item in sorted(found, key=lambda entry: str(entry["created_at"])):
            values = sealed.unseal(key, STORE, item["change_request_id"], item[sealed.FIELDS])
            shown.append(
                {
                    "customer_id": customer_id,
                    "change_request_id": item["change_request_id"],
                    "field": item["field"],
                    "value": values.get("value"),
                    "reason": values.get("reason"),
                    "created_at": item["created_at"],
                    "restricted": subject.restricted,
                }
            )
        self._record_access(officer, customer_id, [entry["change_request_id"] for entry in shown])
        return shown

    def decide(
        self, officer: StaffMember, customer_id: str, change_request_id: str, decision: Decision, reason: str
    ) -> dict[str, Any]:
        """Approve or reject a pending change request, keeping the officer's `reason` sealed; returns the outcome.

        Returns `{change_request_id, customer_id, field, status, decided_at, profile_version}` (the new
        profile version on approval, else None). Raises `Forbidden` for a caller who is not a privacy
        officer or an account being erased (approval), `NotFound` for no such request of that customer,
        `Conflict` when it was already decided, and `ConsentRequired` when approving without `crm_core`.
        Refusals are audited. A decision answers the rectification request in the register
        (`custody.deadlines.register`); the customer is sent the completion notice at their sign-in address.
        """
        with audited_refusals(
            self.settings,
            function=STAFF_FUNCTION,
            step="change_request_decision",
            target=f"change_request/{change_request_id}",
            actor=officer.actor,
            subject_id=customer_id,
        ):
            officer.require_privacy_officer()
            decided = self.subjects.guarded(
                customer_id, lambda subject: self._decide(subject, officer, change_request_id, decision, reason)
            )
        self.ledger.record(
            step="change_request_decision",
            target=f"change_request/{change_request_id}",
            outcome=decided["status"],
            actor=officer.actor,
            subject_id=customer_id,
            counts={IDENTITY: 1} if decision is Decision.APPROVE else {},
        )
        register = RequestsRegister(self.settings)
        if register.answered(change_request_id, decided["status"], CustomerIdentity(self.settings).email(customer_id)):
            self.subjects.close_request(customer_id, change_request_id)
        return decided

    def _decide(
        self, subject: Subject, officer: StaffMember, change_request_id: str, decision: Decision, reason: str
    ) -> dict[str, Any]:
        subject.ensure_active()
        request = self.requests.get(subject.subject_id, change_request_id)
        if request is None:
            raise NotFound("No such change request for this customer.")
        if request.get("status") != ChangeStatus.PENDING.value:
            raise Conflict("This change request was already decided.", {"status": request.get("status")})
        status = ChangeStatus.APPROVED if decision is Decision.APPROVE else ChangeStatus.REJECTED
        key = self.keyring.get(subject.subject_id)
        at = now_iso()
        items: list[TransactWriteItemTypeDef] = [self._close(subject, change_request_id, status, officer, reason, at)]
        if decision is not Decision.APPROVE:
            items.append(self.subjects.fence_and_decide(subject))
        else:
            missing = datamap.missing_purposes([IDENTITY], subject.purposes)
            if missing:
                raise ConsentRequired(missing)
            requested = sealed.unseal(key, STORE, change_request_id, request[sealed.FIELDS])
            items += self.profiles.identity_change(subject, str(request["field"]), requested["value"], at)
        dynamo.transact(items)
        return {
            "change_request_id": change_request_id,
            "customer_id": subject.subject_id,
            "field": request["field"],
            "status": status.value,
            "decided_at": at,
            "profile_version": subject.profile_version + 1 if decision is Decision.APPROVE else None,
        }

    def _close(
        self, subject: Subject, change_request_id: str, status: ChangeStatus, officer: StaffMember, reason: str, at: str
    ) -> TransactWriteItemTypeDef:
        key = self.keyring.get(subject.subject_id)
        sealed_reason = sealed.seal(key, STORE, change_request_id, {"decision_reason": reason})["decision_reason"]
        return self.requests.decide(
            subject.subject_id,
            change_request_id,
            open_status=ChangeStatus.PENDING.value,
            status=status.value,
            at=at,
            officer=officer.staff_id,
            sealed_reason=sealed_reason,
        )

    def _record_access(self, officer: StaffMember, customer_id: str, change_request_ids: list[str]) -> None:
        at = now_iso()
        self.grants.log_read(
            customer_id,
            {
                "staff_id": officer.staff_id,
                "purpose": REVIEW_PURPOSE,
                "categories": [STORE],
                "change_request_ids": change_request_ids,
                "at": at,
            },
        )
        self.ledger.record(
            step="change_request_review",
            target=f"change_requests:{len(change_request_ids)}",
            outcome="read",
            actor=officer.actor,
            subject_id=customer_id,
            counts={STORE: len(change_request_ids)},
        )
