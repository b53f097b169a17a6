"""Starting an erasure: one path for a withdrawal, a purpose withdrawal and the retention sweep.

A request is recorded (`stores.requests`, an unguessable id, no personal data) in the same
transaction as the subject's update (`pending_erasure` for a full erasure, the request among its
`open_requests`), so it exists exactly when the cause did. Then its audit chain opens with what
asked for it, and the workflow starts through admission (`custody.erasure.admission`: at once
when a slot is free, else from the admission queue), named by the request id: starting it twice
starts it once, so asking again for a full erasure returns the same request and — if the first
call stopped before the workflow started — starts it. A full erasure already pending is reused.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from custody.audit.ledger import AuditLedger
from custody.deadlines.register import RequestsRegister
from custody.declared.errors import Conflict
from custody.declared.settings import Settings
from custody.erasure.admission import Admission
from custody.erasure.plan import Erasure
from custody.stores import dynamo
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable, RequestStatus
from custody.stores.subjects import Subject, SubjectRegistry
from custody.subprocessors.registry import Agreement

RETENTION_ACTOR: Final = "retention-sweep"
CUSTOMER_ACTOR: Final = "customer:api"


class ErasureStarter:
    """Records and starts erasure requests: one path for every cause.

    Built from `settings`: the subjects and requests tables, the audit ledger, and the erasure state
    machine (`erasure_state_machine_arn`) through admission (`admission_queue_url`). DynamoDB, SQS and
    Step Functions errors other than those each method names pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.requests = RequestsTable(settings)
        self.audit = AuditLedger(settings)
        self.admission = Admission(settings)
        self.register = RequestsRegister(settings)

    # --- the parts every cause uses ---------------------------------------------------------

    def request_for(self, subject: Subject, erasure: Erasure) -> tuple[ErasureRequest, bool]:
        """The request for `erasure` on this subject, and whether it is new (not yet recorded).

        A full erasure already pending on the subject is that request (not a new one). A new request a
        data subject asked for is due under `Settings.jurisdiction` (a retention erasure is not).
        """
        if erasure.full and subject.pending_erasure:
            existing = self.requests.erasure(subject.pending_erasure)
            if existing is not None:
                return existing, False
        request = ErasureRequest.new(
            subject.subject_id,
            erasure.reason,
            erasure.scope,
            erasure.processors,
            jurisdiction=self.settings.jurisdiction,
        )
        return request, True

    @staticmethod
    def subject_update(request: ErasureRequest) -> dict[str, Any]:
        """What the subject's record gets with a new request: `SubjectRegistry.touch` arguments."""
        sets = ["pending_erasure = :request_id"] if request.full else []
        return {
            "set_expressions": sets,
            "values": {":request_id": request.request_id} if sets else {},
            "add_open_request": request.request_id,
        }

    def opened(
        self, request: ErasureRequest, *, step: str, target: str, actor: str, processor: Agreement | None = None
    ) -> None:
        """The request's audit chain opens with its cause (before the workflow starts)."""
        self.audit.record(
            step=step,
            target=target,
            outcome="ok",
            actor=actor,
            request_id=request.request_id,
            subject_id=request.subject_id,
            counts={"categories": len(request.scope)},
            processor=processor,
        )

    def start(self, request: ErasureRequest, attempt: int = 0) -> str:
        """Start the erasure workflow through admission (`custody.erasure.admission`); returns the execution name.

        Named by the request id, starting it twice starts it once. A re-run after a failure
        (`attempt` > 0) is a new execution, `<request id>-rerun-<n>`: every step is idempotent, so
        it finishes the job without harm. With no free slot the request waits on the admission
        queue and starts when one frees (`Admission.start`).
        """
        return self.admission.start(request, attempt).execution

    def rerun(self, request_id: str, attempt: int) -> str:
        """Start the recorded request's workflow again as re-run `attempt` (> 0); returns the execution name.

        Raises `LookupError` when there is no such request.
        """
        request = self.requests.erasure(request_id)
        if request is None:
            raise LookupError("No erasure request of that id.")
        return self.start(request, attempt=attempt)

    # --- full erasures: a withdrawal, the retention sweep -----------------------------------

    def withdraw(self, subject_id: str, address: str | None = None) -> ErasureRequest:
        """The customer withdrew: erase everything (reason `withdrawal`).

        A new request is acknowledged to `address` (the caller's verified e-mail) with its due date; asking
        again returns the same request and sends nothing.
        """
        request, created = self.subjects.guarded(subject_id, partial(self._record, ErasureReason.WITHDRAWAL, None))
        self._open_and_start(request, created, step="withdrawal_requested", actor=CUSTOMER_ACTOR)
        if created:
            self.register.acknowledge(request, address)
        return request

    def retire(self, subject_id: str, inactive_since: str) -> ErasureRequest:
        """Erase a customer inactive since `inactive_since` (their `last_active_at`), reason `retention`.

        The transaction requires `last_active_at` unchanged: a customer who came back after the
        sweep read the index is not erased (`Conflict` or `Forbidden`). Raises `Conflict` too when
        the customer is already being erased for another reason.
        """
        request, created = self.subjects.guarded(
            subject_id,
            partial(self._record, ErasureReason.RETENTION, inactive_since),
            on_race=lambda: Conflict("The customer was active again; not erased."),
        )
        if request.reason is not ErasureReason.RETENTION:
            raise Conflict("The customer is already being erased for another reason.")
        self._open_and_start(request, created, step="retention_erasure_requested", actor=RETENTION_ACTOR)
        return request

    def _open_and_start(self, request: ErasureRequest, created: bool, *, step: str, actor: str) -> None:
        """Open the request's chain and start it — once: asking again repeats neither.

        A request asked for again is opened and started again only while it is `received` (nothing
        has run yet: the first call may have stopped before either), and its chain opened only if it
        has no head. Repeated withdrawals while an erasure waits for a slot neither flood the
        request's chain with events nor hold a slot for an execution that already ran.
        """
        waiting = request.status is RequestStatus.RECEIVED
        if created or (waiting and self.audit.head(request.request_id) is None):
            self.opened(request, step=step, target="workflow", actor=actor)
        if created or waiting:
            self.start(request)

    def _record(
        self, reason: ErasureReason, inactive_since: str | None, subject: Subject
    ) -> tuple[ErasureRequest, bool]:
        request, created = self.request_for(subject, Erasure(reason))
        if created:
            dynamo.transact(
                [
                    self.requests.put_new(request),
                    self.subjects.touch(
                        subject, **self.subject_update(request), bump_consent=True, inactive_since=inactive_since
                    ),
                ]
            )
        return request, created
