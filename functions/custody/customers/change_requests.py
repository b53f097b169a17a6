"""Change requests: how a customer asks to correct a verified field (legal name, birth date).

A request is reviewed by a privacy officer before anything changes. The requested value and
the reason are personal data: they are stored encrypted with the customer's key.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from custody.crypto import sealed
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.customers.models import Identity
from custody.deadlines.register import RequestsRegister
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import Conflict, ConsentRequired, InvalidInput, field_errors
from custody.declared.jurisdictions import RequestKind
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.change_requests import PENDING_ATTRIBUTE, TABLE, ChangeRequestsTable
from custody.stores.requests import DataRequest
from custody.stores.subjects import PENDING_CHANGES, Subject, SubjectRegistry

STORE: Final = TABLE
# Change requests of one customer awaiting a privacy officer at once: each is a person's work, so one
# customer cannot flood the review queue (or grow the lists of their requests without end).
MAX_PENDING: Final = 5


class ChangeStatus(StrEnum):
    """Where a change request stands: `pending` review, `approved` (the field changed) or `rejected`."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def verified_fields() -> tuple[str, ...]:
    """The identity fields changed only through a reviewed change request (the data map's `verified_fields`)."""
    return datamap.category("identity").verified_fields


class ChangeRequests:
    """Customers' requests to correct verified identity fields (GDPR art. 16, rectification), under `settings`.

    The requested value and reason are sealed with the customer's key (`keyring`, the process-wide one
    by default). DynamoDB and KMS errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.requests = ChangeRequestsTable(settings)
        self.subjects = SubjectRegistry(settings)
        self.keyring = keyring or get_keyring()
        self.register = RequestsRegister(settings)

    def open(self, subject_id: str, field: str, value: str, reason: str, address: str | None = None) -> dict[str, Any]:
        """Open a change request of `field` to `value`, for a privacy officer's review; returns its view.

        The view is `{change_request_id, field, value, reason, status, created_at, decided_at,
        decision_reason}`, status `pending`. At most `MAX_PENDING` of a customer's requests await review at
        once: one more is a `Conflict` (409), checked in the write's own condition so that a burst cannot
        pass it. Raises `Forbidden` when the account is being erased,
        `InvalidInput` for a field that is not verified or a value the identity rules refuse (named,
        never echoed), `ConsentRequired` without `crm_core`, and `Conflict` when the subject kept
        changing under it.

        The request is a rectification in the register (`custody.deadlines.register`), recorded in the same
        transaction with its due date, and acknowledged to `address` (the caller's verified e-mail).
        """
        view, received = self.subjects.guarded(subject_id, lambda subject: self._open(subject, field, value, reason))
        self.register.acknowledge(received, address)
        return view

    def _open(self, subject: Subject, field: str, value: str, reason: str) -> tuple[dict[str, Any], DataRequest]:
        subject.ensure_active()
        if field not in verified_fields():
            raise InvalidInput(
                "Only verified fields need a change request; change the others with PATCH /v1/me/profile.",
                {"fields": [{"field": "field", "reason": f"must be one of {list(verified_fields())}"}]},
            )
        try:
            checked = Identity.model_validate({field: value}).model_dump(mode="json")[field]
        except ValidationError as error:
            raise InvalidInput("The requested value is not valid.", field_errors(error.errors(), ("value",))) from None
        missing = datamap.missing_purposes(["identity"], subject.purposes)
        if missing:
            raise ConsentRequired(missing)
        if subject.pending_changes >= MAX_PENDING:
            raise Conflict(
                f"{MAX_PENDING} change requests already await review; wait for a decision before opening another.",
                {"pending": subject.pending_changes, "limit": MAX_PENDING},
            )
        pending = self.keyring.for_write(subject.subject_id)
        key = pending.key
        request_id = str(uuid.uuid4())
        at = now_iso()
        plain = {"value": checked, "reason": reason}
        registered, received = self.register.receive(RequestKind.RECTIFICATION, request_id, subject.subject_id)
        item = {
            "subject_id": subject.subject_id,
            "change_request_id": request_id,
            "field": field,
            "status": ChangeStatus.PENDING.value,
            PENDING_ATTRIBUTE: ChangeStatus.PENDING.value,  # sparse review-queue index; removed on decision
            "created_at": at,
            sealed.FIELDS: sealed.seal(key, STORE, request_id, plain),
        }
        dynamo.transact(
            [
                self.requests.add(item),
                self.subjects.touch(
                    subject,
                    pending_change=1,
                    values={":most_pending": MAX_PENDING},
                    also_require=[f"(attribute_not_exists({PENDING_CHANGES}) OR {PENDING_CHANGES} < :most_pending)"],
                    add_open_request=request_id,
                ),
                received,
                *([pending.put] if pending.put else []),
            ]
        )
        self.keyring.committed(pending)
        return self._view({**item, **plain}), registered

    def list(self, subject_id: str) -> list[dict[str, Any]]:
        """The customer's change requests, oldest first, decrypted, in the view `open` returns.

        Raises `Forbidden` once the account's erasure has started (nothing is read from it then) and
        `SubjectKeyUnavailable` when requests exist but the key is gone.
        """
        self.subjects.load(subject_id).ensure_active()
        items = self.requests.items(subject_id)
        if not items:
            return []
        key = self.keyring.get(subject_id)
        for item in items:
            item.update(sealed.unseal(key, STORE, item["change_request_id"], item.pop(sealed.FIELDS)))
        return [self._view(item) for item in sorted(items, key=lambda entry: str(entry["created_at"]))]

    @staticmethod
    def _view(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "change_request_id": item["change_request_id"],
            "field": item["field"],
            "value": item.get("value"),
            "reason": item.get("reason"),
            "status": item["status"],
            "created_at": item["created_at"],
            "decided_at": item.get("decided_at"),
            "decision_reason": item.get("decision_reason"),
        }
