"""Starting an erasure: one path for a withdrawal, a purpose withdrawal and the retention sweep.

A request is recorded (`stores.requests`, an unguessable id, no personal data) in the same
transaction as the subject's update (`pending_erasure` for a full erasure, the request among its
`open_requests`), so it exists exactly when the cause did. Then its audit chain opens with what
asked for it, and the workflow starts through admission (`custody.erasure.admission`: at once
when a slot is free, else from the admission queue), named by the request id: starting it twice
starts it once, so asking again for a full erasure returns the same request and — if the first
call stopped before the workflow started — starts it. A full erasure already pending is reused.

A request made while a legal hold lies on the subject (`custody.declared.holds`) is recorded `held`,
with the hold's reason code and last day, and is not started: its chain records `erasure_held`, and
`custody.erasure.holds` starts it when the hold is lifted or ends. The transaction requires the hold as
it was read (`SubjectRegistry.hold_unchanged`), so a hold placed or lifted meanwhile is never missed.

The retention sweep's erasure of records a legal obligation kept (`end_retention`, reason
`retention_obligation_ended`) takes the same path from a `retained` subject.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from custody.audit.ledger import AuditLedger
from custody.deadlines.register import RequestsRegister
from custody.declared import datamap, holds
from custody.declared.errors import Conflict
from custody.declared.naming import execution_name
from custody.declared.notices import NoticeKind
from custody.declared.settings import Settings
from custody.erasure.admission import Admission
from custody.erasure.plan import Erasure, of_obligations_ended
from custody.stores import dynamo
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable, RequestStatus
from custody.stores.subjects import Subject, SubjectRegistry, SubjectStatus
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

        A full erasure already pending on the subject is that request (not a new one). A new request on a
        subject under an active legal hold is `held` (`ErasureRequest.new`'s `hold`). A new request a
        data subject asked for is due under `Settings.jurisdiction` (the sweep's are not).
        """
        if erasure.full and subject.pending_erasure:
            existing = self.requests.erasure(subject.pending_erasure)
            if existing is not None:
                return existing, False
        hold = subject.hold_facts() if subject.hold_active() else None
        request = ErasureRequest.new(
            subject.subject_id,
            erasure.reason,
            erasure.scope,
            erasure.processors,
            hold,
            jurisdiction=self.settings.jurisdiction,
        )
        return request, True

    @staticmethod
    def subject_update(request: ErasureRequest, subject: Subject) -> dict[str, Any]:
        """What the subject's record gets with a new request: `SubjectRegistry.touch` arguments.

        The write also requires the subject's legal hold as `subject` was loaded with: the request's
        status (`held` or not) was decided from it.
        """
        sets = ["pending_erasure = :request_id"] if request.full else []
        condition, values = SubjectRegistry.hold_unchanged(subject)
        return {
            "set_expressions": sets,
            "values": {**values, **({":request_id": request.request_id} if sets else {})},
            "add_open_request": request.request_id,
            "also_require": [condition],
        }

    def opened(
        self, request: ErasureRequest, *, step: str, target: str, actor: str, processor: Agreement | None = None
    ) -> None:
        """The request's audit chain opens with its cause (before the workflow starts).

        A `held` request's chain then records `erasure_held`, naming the hold's reason code and last day
        (target `legal_hold/<code>:<until>`): the fact a notice to the customer needs.
        """
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
        if request.status is RequestStatus.HELD and request.hold:
            self.audit.record(
                step="erasure_held",
                target=f"legal_hold/{request.hold['reason_code']}:{request.hold['until']}",
                outcome="held",
                actor=actor,
                request_id=request.request_id,
                subject_id=request.subject_id,
                processor=processor,
            )

    def start(self, request: ErasureRequest, attempt: int = 0) -> str:
        """Start the erasure workflow through admission (`custody.erasure.admission`); returns the execution name.

        Named by the request id, starting it twice starts it once. A re-run after a failure
        (`attempt` > 0) is a new execution, `<request id>-rerun-<n>`: every step is idempotent, so
        it finishes the job without harm. With no free slot the request waits on the admission
        queue and starts when one frees (`Admission.start`). A `held` request is not started (its
        execution's name is returned all the same): its hold's release starts it.
        """
        if request.status is RequestStatus.HELD:
            return execution_name(request.request_id, attempt)
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
            self.acknowledge(request, address)
        return request

    def acknowledge(self, request: ErasureRequest, address: str | None) -> None:
        """Tell the customer a new erasure request was received, and, when a legal hold holds it, that it waits.

        The receipt gives its due date; `legal_hold_placed` the hold's declared reason, its provision and
        last day, and the categories held. Never raises: a notice that fails is recorded on the request.
        """
        self.register.acknowledge(request, address)
        if request.status is RequestStatus.HELD and request.hold:
            reason = holds.REASONS[request.hold["reason_code"]]
            self.register.notices.send(
                request.request_id,
                NoticeKind.LEGAL_HOLD_PLACED,
                address,
                {
                    "hold_id": request.request_id,
                    "categories": ", ".join(sorted(request.scope)),
                    "until_date": request.hold["until"],
                    "obligation": reason.code,
                    "legal_basis": reason.legal_source,
                },
                vocabulary={
                    "obligation": frozenset(holds.REASONS),
                    "legal_basis": frozenset(item.legal_source for item in holds.REASONS.values()),
                },
            )

    def retire(self, subject_id: str, inactive_since: str) -> ErasureRequest:
        """Erase a customer inactive since `inactive_since` (their `last_active_at`), reason `retention`.

        The transaction requires `last_active_at` unchanged: a customer who came back after the
        sweep read the index is not erased (`Conflict` or `Forbidden`). Raises `Conflict` too when
        the customer is already being erased for another reason, and when they restricted processing: a
        restriction keeps the data stored (GDPR art. 18(1)(b)-(c): the customer opposed erasure, or needs
        the data for legal claims), so inactivity erases nobody while it lasts — the transaction requires it.
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

    def end_retention(self, subject_id: str, ends_at: str) -> ErasureRequest:
        """Erase what legal obligations kept of a `retained` subject whose last obligation ended at `ends_at`.

        Reason `retention_obligation_ended`, scope `plan.of_obligations_ended()`; the request records each
        obligation that ends with its legal basis, categories and last day (`obligations_ended`). The
        transaction requires the subject retained, its end unchanged, no erasure pending and its legal
        hold as read. Raises `Conflict` when it is not retained, its end moved, or a legal hold lies on it
        now (the sweep tries again after the hold), and `Forbidden` when it changed under the write.
        """
        request, created = self.subjects.guarded(
            subject_id,
            partial(self._record_end, ends_at),
            on_race=lambda: Conflict("The retained customer changed; not erased now."),
        )
        self._open_and_start(request, created, step="retention_end_requested", actor=RETENTION_ACTOR)
        return request

    def _record_end(self, ends_at: str, subject: Subject) -> tuple[ErasureRequest, bool]:
        if subject.status is not SubjectStatus.RETAINED or subject.retention_ends_at != ends_at:
            raise Conflict("The customer's records are not kept until then.")
        if subject.pending_erasure:
            existing = self.requests.erasure(subject.pending_erasure)
            if existing is not None and existing.ends_retention:
                return existing, False
            raise Conflict("Another erasure of the customer is pending.")
        if subject.hold_active():
            raise Conflict("A legal hold lies on the customer.", {"status": RequestStatus.HELD.value})
        erasure = of_obligations_ended()
        request = ErasureRequest.new(subject.subject_id, erasure.reason, erasure.scope)
        ended = [
            {
                "obligation": name,
                "legal_basis": datamap.obligation(name).legal_basis,
                "categories": [item.name for item in datamap.categories_under(name)],
                "until": until,
            }
            for name, until in sorted(subject.retained.items())
        ]
        dynamo.transact(
            [
                self.requests.put_new(request, extra={"obligations_ended": ended}),
                self.subjects.begin_retention_end(subject, request.request_id),
            ]
        )
        return request, True

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
        retention = reason is ErasureReason.RETENTION
        if retention and subject.restricted:
            raise Conflict("The customer restricted processing: their data is kept while it lasts (GDPR art. 18).")
        request, created = self.request_for(subject, Erasure(reason))
        if created:
            dynamo.transact(
                [
                    self.requests.put_new(request),
                    self.subjects.touch(
                        subject,
                        **self.subject_update(request, subject),
                        bump_consent=True,
                        inactive_since=inactive_since,
                        unrestricted=retention,
                    ),
                ]
            )
        return request, created
