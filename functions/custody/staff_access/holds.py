"""Legal holds placed and lifted by privacy officers (`PUT`/`DELETE /v1/staff/customers/{customer_id}/legal-hold`).

A hold pauses every erasure of the customer (`custody.declared.holds`, GDPR art. 17(3)(b) and (e)): one
requested while it lasts is accepted and recorded `held` (`custody.erasure.starter`), and starts when the
hold is lifted here or its last day has ended (the daily sweep: `custody.erasure.holds`). The hold is
placed on an active customer — also one who withdrew while it lay on them, or placed again to extend
it — or on a `retained` one (it then pauses the erasure of the records a legal obligation kept). It
cannot stop an erasure already admitted (`received`, `in_progress` or `failed`): that is refused (409),
never silently ignored.

What is kept: the declared reason code, a ticket reference, the last day, who placed it and when — on
the subject's record (`SubjectRegistry.place_hold`), with the held requests' copy of the code and the day
for the customer's status page. The ledger records the code and the day only (`legal_hold/<code>:<day>`):
no free text reaches it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final

from custody.access_control.principals import STAFF_FUNCTION, StaffMember, audited_refusals
from custody.audit.ledger import AuditLedger, refusal_chain, subject_chain
from custody.declared import clock, holds, retention
from custody.declared.errors import Conflict, InvalidInput, NotFound
from custody.declared.settings import Settings
from custody.erasure.holds import LIFTED, HeldErasures
from custody.staff_access.grants import TICKET, customer_unavailable
from custody.stores import dynamo
from custody.stores.subjects import Subject, SubjectRegistry, SubjectStatus

MAX_ATTEMPTS: Final = 8


def check_hold(reason_code: str, ticket: str, until: date, today: date) -> None:
    """Shape checks (422, nothing written): a declared reason code, a ticket reference, a last day in range.

    The last day is from today to `holds.MAX_HOLD_DAYS` ahead. The problems name the field and the rule,
    never the value.
    """
    problems = []
    if reason_code not in holds.REASONS:
        problems.append({"field": "reason_code", "reason": f"must be one of {sorted(holds.REASONS)}"})
    if not TICKET.fullmatch(ticket):
        problems.append({"field": "ticket", "reason": "must be a ticket reference like LEG-1234"})
    if until < today or until > today + timedelta(days=holds.MAX_HOLD_DAYS):
        problems.append({"field": "until", "reason": f"must be a day from today to {holds.MAX_HOLD_DAYS} days ahead"})
    if problems:
        raise InvalidInput("The legal hold is not valid.", {"fields": problems})


class LegalHolds:
    """Legal holds on customers under `settings`, placed and lifted by privacy officers; audited.

    DynamoDB, SQS and Step Functions errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.held = HeldErasures(settings)
        self.ledger = AuditLedger(settings)

    def place(
        self, officer: StaffMember, customer_id: str, reason_code: str, ticket: str, until: date
    ) -> dict[str, Any]:
        """Place (or place again) a legal hold on the customer until the end of `until`.

        Returns `{customer_id, reason_code, until, placed_at, held_requests}` (`held_requests`: how many of
        the customer's erasures it holds now). Raises `InvalidInput` (`check_hold`), `Forbidden` for a
        caller who is not a privacy officer or a customer who does not exist or is erased (audited),
        `Conflict` when an erasure of the customer was already admitted (it can no longer be stopped) or the
        customer kept changing under the write.
        """
        check_hold(reason_code, ticket, until, clock.now().date())
        with audited_refusals(
            self.settings,
            function=STAFF_FUNCTION,
            step="legal_hold_placed",
            target="legal_hold",
            actor=officer.actor,
            subject_id=customer_id,
        ):
            officer.require_privacy_officer()
            for _ in range(MAX_ATTEMPTS):
                subject = self.subjects.load(customer_id)
                hold = self._hold(officer, reason_code, ticket, until)
                held = self._holdable(subject)
                facts = {"reason_code": reason_code, "until": until.isoformat()}
                try:
                    dynamo.transact(
                        [
                            self.subjects.place_hold(subject, hold),
                            *(self.held.requests.rehold(request.request_id, facts) for request in held),
                        ]
                    )
                except dynamo.TransactionConflict:
                    continue
                break
            else:
                raise Conflict("The customer is being changed by other requests; retry.")
        self.ledger.record(
            step="legal_hold_placed",
            target=f"legal_hold/{reason_code}:{until.isoformat()}",
            outcome="placed",
            actor=officer.actor,
            subject_id=customer_id,
            chain_id=subject_chain(customer_id),
            counts={"held": len(held)},
        )
        return {
            "customer_id": customer_id,
            "reason_code": reason_code,
            "until": until.isoformat(),
            "placed_at": hold["placed_at"],
            "held_requests": len(held),
        }

    def lift(self, officer: StaffMember, customer_id: str) -> dict[str, Any]:
        """Lift the customer's legal hold: it ends now, and every erasure it held starts (through admission).

        Returns `{customer_id, lifted_at, reason_code, until, released_requests}`. Raises `Forbidden` for a
        caller who is not a privacy officer (audited), `NotFound` when no hold lies on the customer (the
        attempt is audited too), and `Conflict` when the customer kept changing under the write.
        """
        with audited_refusals(
            self.settings,
            function=STAFF_FUNCTION,
            step="legal_hold_lifted",
            target="legal_hold",
            actor=officer.actor,
            subject_id=customer_id,
        ):
            officer.require_privacy_officer()
        for _ in range(MAX_ATTEMPTS):
            subject = self.subjects.load(customer_id)
            if not subject.legal_hold:
                chain, named = refusal_chain(self.settings, STAFF_FUNCTION, customer_id)
                self.ledger.record(
                    step="legal_hold_lifted",
                    target="legal_hold",
                    outcome=NotFound.code,
                    actor=officer.actor,
                    subject_id=named,
                    chain_id=chain,
                )
                raise NotFound("No legal hold lies on this customer.")
            try:
                released = self.held.release(subject, actor=officer.actor, how=LIFTED)
            except dynamo.TransactionConflict:
                continue
            return {
                "customer_id": customer_id,
                "lifted_at": clock.now_iso(),
                "reason_code": released.hold["reason_code"],
                "until": released.hold["until"],
                "released_requests": len(released.released),
            }
        raise Conflict("The customer is being changed by other requests; retry.")

    def _holdable(self, subject: Subject) -> list[Any]:
        """The subject's held requests, after checking a hold may be placed on it now (raises otherwise)."""
        retained = subject.status is SubjectStatus.RETAINED
        if not retained and (not subject.exists or subject.status is not SubjectStatus.ACTIVE):
            raise customer_unavailable()
        admitted = self.held.open_not_held(subject)
        if admitted or (retained and subject.pending_erasure):
            status = admitted[0].status.value if admitted else "received"
            raise Conflict(
                "An erasure of this customer is already under way; a legal hold can no longer stop it.",
                {"status": status},
            )
        return self.held.held_of(subject)

    @staticmethod
    def _hold(officer: StaffMember, reason_code: str, ticket: str, until: date) -> dict[str, str]:
        return {
            "reason_code": reason_code,
            "until": until.isoformat(),
            "ends_at": clock.iso(retention.end_of_day(until)),
            "ticket": ticket,
            "placed_by": officer.staff_id,
            "placed_at": clock.now_iso(),
        }
