"""Withdrawal: the customer takes their data back — everything, everywhere.

Requesting it records an erasure request (an unguessable id, no personal data) and starts the
erasure workflow named by that id. Asking again returns the same request and, if the first
call stopped before the workflow started, starts it: the request is idempotent end to end.
"""

from __future__ import annotations

from custody import datamap, dynamo
from custody.audit import AuditLedger
from custody.requests import ErasureReason, ErasureRequest, RequestRegistry
from custody.settings import Settings
from custody.subjects import Subject, SubjectRegistry


class Withdrawals:
    def __init__(self, settings: Settings) -> None:
        self.subjects = SubjectRegistry(settings)
        self.requests = RequestRegistry(settings)
        self.audit = AuditLedger(settings)

    def withdraw(self, subject_id: str) -> ErasureRequest:
        request = self.subjects.guarded(subject_id, self._record)
        # Before the workflow starts, so the request's chain opens with what asked for it.
        self.audit.record(
            step="withdrawal_requested",
            target="workflow",
            outcome="ok",
            actor="customer:api",
            request_id=request.request_id,
            subject_id=subject_id,
            counts={"categories": len(request.scope)},
        )
        self.requests.start(request)
        return request

    def _record(self, subject: Subject) -> ErasureRequest:
        if subject.pending_erasure:
            existing = self.requests.erasure(subject.pending_erasure)
            if existing is not None:
                return existing
        everything = tuple(category.name for category in datamap.CATEGORIES)
        request = self.requests.new_erasure(subject.subject_id, ErasureReason.WITHDRAWAL, everything)
        dynamo.transact(
            [
                self.requests.put_item(request),
                self.subjects.touch(
                    subject,
                    set_expressions=["pending_erasure = :request_id"],
                    values={":request_id": request.request_id},
                    add_open_request=request.request_id,
                    bump_consent=True,
                ),
            ]
        )
        return request
