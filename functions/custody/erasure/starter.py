"""Withdrawal: the customer takes their data back — everything, everywhere.

Requesting it records an erasure request (an unguessable id, no personal data) and starts the
erasure workflow named by that id. Asking again returns the same request and, if the first
call stopped before the workflow started, starts it: the request is idempotent end to end.

The retention sweep erases an inactive customer through the same path (`retire`), with reason
`retention`: the same request record, the same transaction on the subject, the same workflow.
"""

from __future__ import annotations

from functools import partial

from custody.audit.ledger import AuditLedger
from custody.declared import datamap
from custody.declared.errors import Conflict
from custody.declared.settings import Settings
from custody.erasure.requests import ErasureReason, ErasureRequest, RequestRegistry
from custody.stores import dynamo
from custody.stores.subjects import Subject, SubjectRegistry

RETENTION_ACTOR = "retention-sweep"


class Withdrawals:
    def __init__(self, settings: Settings) -> None:
        self.subjects = SubjectRegistry(settings)
        self.requests = RequestRegistry(settings)
        self.audit = AuditLedger(settings)

    def withdraw(self, subject_id: str) -> ErasureRequest:
        request = self.subjects.guarded(subject_id, partial(self._record, ErasureReason.WITHDRAWAL, None))
        return self._start(request, "withdrawal_requested", "customer:api")

    def retire(self, subject_id: str, inactive_since: str) -> ErasureRequest:
        """Erase a customer inactive since `inactive_since` (their `last_active_at`), reason `retention`.

        The transaction requires `last_active_at` unchanged: a customer who came back after the
        sweep read the index is not erased (the attempt ends in `Forbidden` or `Conflict`).
        """
        request = self.subjects.guarded(
            subject_id,
            partial(self._record, ErasureReason.RETENTION, inactive_since),
            on_race=lambda: Conflict("The customer was active again; not erased."),
        )
        if request.reason is not ErasureReason.RETENTION:
            raise Conflict("The customer is already being erased for another reason.")
        return self._start(request, "retention_erasure_requested", RETENTION_ACTOR)

    def _start(self, request: ErasureRequest, step: str, actor: str) -> ErasureRequest:
        # Before the workflow starts, so the request's chain opens with what asked for it.
        self.audit.record(
            step=step,
            target="workflow",
            outcome="ok",
            actor=actor,
            request_id=request.request_id,
            subject_id=request.subject_id,
            counts={"categories": len(request.scope)},
        )
        self.requests.start(request)
        return request

    def _record(self, reason: ErasureReason, inactive_since: str | None, subject: Subject) -> ErasureRequest:
        if subject.pending_erasure:
            existing = self.requests.erasure(subject.pending_erasure)
            if existing is not None:
                return existing
        everything = tuple(category.name for category in datamap.CATEGORIES)
        request = self.requests.new_erasure(subject.subject_id, reason, everything)
        dynamo.transact(
            [
                self.requests.put_item(request),
                self.subjects.touch(
                    subject,
                    set_expressions=["pending_erasure = :request_id"],
                    values={":request_id": request.request_id},
                    add_open_request=request.request_id,
                    bump_consent=True,
                    inactive_since=inactive_since,
                ),
            ]
        )
        return request
