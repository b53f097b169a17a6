"""Erasures held by a legal hold, and their release when the hold is lifted or ends.

An erasure requested while a legal hold lies on its subject is recorded `held` (`custody.erasure.starter`)
and does not start. Nothing is lost while it waits: it is among the subject's open requests and in the
requests table's `by_status` index under `held` (which the retention sweep reads every day, and the SLA
measure counts — past its response date too: `custody.retention.disposal.held_erasures`). It starts
when:

* a privacy officer lifts the hold (`DELETE /v1/staff/customers/{customer_id}/legal-hold`); or
* the hold's last day has ended: the daily sweep (`release_ended`) finds it and releases it.

A release is one transaction — the hold off the subject (unless it changed meanwhile), each held request
`received` — then, per request, `erasure_released` on its chain and its start through admission like any
other (`Admission.start`: at once when a slot is free, else from the admission queue). A request started
twice starts once (its execution is named by it), so a release retried after a crash cannot run an
erasure twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from custody.audit.ledger import AuditLedger, subject_chain
from custody.declared import clock
from custody.declared.settings import Settings
from custody.erasure.starter import ErasureStarter
from custody.stores import dynamo
from custody.stores.requests import ErasureRequest, RequestsTable, RequestStatus
from custody.stores.subjects import Subject, SubjectRegistry

LIFTED: Final = "lifted"
ENDED: Final = "ended"


@dataclass(frozen=True)
class Release:
    """What one release did: the requests it released (and started), and the hold it took off (its facts)."""

    released: tuple[str, ...]
    hold: dict[str, str]


class HeldErasures:
    """Held erasure requests under `settings`: finding them, releasing them.

    DynamoDB, SQS and Step Functions errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.requests = RequestsTable(settings)
        self.starter = ErasureStarter(settings)
        self.audit = AuditLedger(settings)

    def held_of(self, subject: Subject) -> list[ErasureRequest]:
        """The subject's open requests that are `held`, by request id (one read each)."""
        found = [self.requests.erasure(request_id) for request_id in sorted(subject.open_requests)]
        return [request for request in found if request is not None and request.status is RequestStatus.HELD]

    def open_not_held(self, subject: Subject) -> list[ErasureRequest]:
        """The subject's open requests that are not `held`: erasures a hold placed now could no longer stop."""
        found = [self.requests.erasure(request_id) for request_id in sorted(subject.open_requests)]
        return [request for request in found if request is not None and request.status is not RequestStatus.HELD]

    def release(self, subject: Subject, *, actor: str, how: str) -> Release:
        """Take the subject's legal hold off and start every erasure it held; `how` is `lifted` or `ended`.

        One transaction (the hold removed if unchanged since `subject` was loaded, each held request moved
        to `received`), then the ledger — `legal_hold_<how>` on the subject's chain, `erasure_released` on
        each request's — and each start. Raises `dynamo.TransactionConflict` when the hold or a request
        changed meanwhile: nothing was written; the caller reloads and tries again.
        """
        held = self.held_of(subject)
        facts = subject.hold_facts()
        dynamo.transact(
            [self.subjects.lift_hold(subject), *(self.requests.release_hold(request.request_id) for request in held)]
        )
        target = _target(facts)
        self.audit.record(
            step=f"legal_hold_{how}",
            target=target,
            outcome=how,
            actor=actor,
            subject_id=subject.subject_id,
            chain_id=subject_chain(subject.subject_id),
            counts={"released": len(held)},
        )
        for request in held:
            self.audit.record(
                step="erasure_released",
                target=target,
                outcome="released",
                actor=actor,
                request_id=request.request_id,
                subject_id=request.subject_id,
            )
            self.starter.start(replace(request, status=RequestStatus.RECEIVED, hold=None))
        return Release(tuple(request.request_id for request in held), facts)

    def release_ended(self, now: str | None = None, *, actor: str) -> tuple[int, int]:
        """Release every held request whose subject's hold has ended at `now` (the clock's when None).

        Reads the `held` requests from the `by_status` index (a Query, never a Scan) and each one's
        subject; returns (requests released, requests still held). A subject whose hold changed under
        the release is left for the next run.
        """
        moment = now or clock.now_iso()
        released, still_held, seen = 0, 0, set()
        for item in self.requests.by_status(RequestStatus.HELD):
            subject_id = str(item["subject_id"])
            if subject_id in seen:
                continue
            seen.add(subject_id)
            subject = self.subjects.load(subject_id)
            if subject.hold_active(moment):
                still_held += len(self.held_of(subject))
                continue
            try:
                released += len(self.release(subject, actor=actor, how=ENDED).released)
            except dynamo.TransactionConflict:
                still_held += 1
        return released, still_held


def _target(facts: dict[str, str]) -> str:
    """The ledger target of a hold: `legal_hold/<reason code>:<until>`, or the word when it holds no facts."""
    if facts.get("reason_code") and facts.get("until"):
        return f"legal_hold/{facts['reason_code']}:{facts['until']}"
    return "legal_hold"
