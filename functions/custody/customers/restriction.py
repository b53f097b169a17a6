"""Restriction of processing (GDPR art. 18): the customer restricts it, on a declared ground, and lifts it.

While a restriction lasts the customer's data is kept (not erased by inactivity either) and is not
used: staff grants are neither given, approved nor usable, nothing is disclosed to sub-processors, and
no new data or consent is taken for a purpose that is not essential (`custody.declared.restriction`
says which routes do what; each refusal is 403 `processing_restricted`, never naming the ground). The
customer's own requests go on: art. 18(2) allows processing with their consent, and their access,
export, rectification, withdrawal, objection and erasure requests are that consent.

The state lives on the subject's record (`stores.subjects.RESTRICTION`: `{ground, since}`), written in
one conditional update: restricting requires none in place, lifting requires one. Every write the
restriction stops requires none in its own transaction (`SubjectRegistry.touch`/`fence` with
`unrestricted=True`), so a grant or a disclosure that read the customer before the restriction fails
atomically when the restriction landed first, and is then refused. The ledger records
`restriction_applied` (target `restriction:<ground>`: a declared code) and `restriction_lifted` on the
customer's chain: ids and codes only. An erasure's tombstone replaces the record, restriction included.

Art. 18(3) asks that the customer be told before a restriction is lifted; here only the customer lifts
it, so they are the one who knows first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from custody.audit.ledger import AuditLedger, subject_chain
from custody.deadlines.register import RequestsRegister
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import Conflict, NotFound
from custody.declared.jurisdictions import RequestKind
from custody.declared.restriction import Ground
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.subjects import Subject, SubjectRegistry


@dataclass(frozen=True)
class RestrictionState:
    """Where a customer's restriction stands after a request.

    `restricted`; `ground` (a `Ground` code) and `since` (when it began) while restricted, else None;
    `changed`: whether this request changed anything (a repeated restriction on the same ground does not).
    """

    restricted: bool
    ground: str | None = None
    since: str | None = None
    changed: bool = True
    request_id: str | None = None  # the register's record of the request that restricted, when this one did

    def view(self) -> dict[str, Any]:
        """What the customer is shown: the state, its article, and the purposes that stay open meanwhile."""
        return {
            "restricted": self.restricted,
            "ground": self.ground,
            "article": Ground(self.ground).article if self.ground else None,
            "since": self.since,
            "essential_purposes": list(datamap.essential_purposes()),
            "request_id": self.request_id,
        }


def state_of(subject: Subject) -> RestrictionState:
    """The subject's restriction as loaded (`changed` False: reading changes nothing)."""
    if subject.restriction is None:
        return RestrictionState(False, changed=False)
    return RestrictionState(True, subject.restriction.get("ground"), subject.restriction.get("since"), changed=False)


class Restrictions:
    """Customers' restrictions of processing under `settings`: the subject record and the audit ledger.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.subjects = SubjectRegistry(settings)
        self.audit = AuditLedger(settings)
        self.register = RequestsRegister(settings)

    def restrict(
        self, subject_id: str, ground: Ground, channel: str = "api", address: str | None = None
    ) -> RestrictionState:
        """Restrict the processing of the customer's data on `ground` (GDPR art. 18(1)(a)-(d)).

        Asking again on the same ground changes nothing (`changed` False, no event). Raises `Conflict`
        (409, `details.reason` `already_restricted`, with the customer's own current ground) when a
        restriction on another ground is in place — lift it first — and `Forbidden` once the customer's
        erasure has started.

        A restriction is a data-subject request answered at once: the register records it (kind
        `restriction`, received and due under `Settings.jurisdiction`) in the restriction's own
        transaction, completed with outcome `restricted`, and the customer is told at `address`.
        """
        found = self.subjects.guarded(subject_id, lambda subject: self._restrict(subject, ground))
        if found.changed and found.request_id:
            self.register.answered(found.request_id, "restricted", address)
        if found.changed:
            self.audit.record(
                step="restriction_applied",
                target=f"restriction:{ground.value}",
                outcome="ok",
                actor=f"customer:{channel}",
                subject_id=subject_id,
                chain_id=subject_chain(subject_id),
            )
        return found

    def _restrict(self, subject: Subject, ground: Ground) -> RestrictionState:
        subject.ensure_active()
        current = state_of(subject)
        if current.restricted:
            if current.ground == ground.value:
                return current
            raise Conflict(
                "Processing is already restricted on another ground: lift it first.",
                {"reason": "already_restricted", "ground": current.ground},
            )
        at = now_iso()
        request, received = self.register.receive(RequestKind.RESTRICTION, str(uuid.uuid4()), subject.subject_id)
        dynamo.transact([self.subjects.restrict(subject, ground.value, at), received])
        return RestrictionState(True, ground.value, at, request_id=request.request_id)

    def lift(self, subject_id: str, channel: str = "api") -> RestrictionState:
        """Lift the customer's restriction: processing goes back to what their purposes allow.

        Raises `NotFound` (404) when processing is not restricted, `Forbidden` once the customer's erasure
        has started.
        """
        found = self.subjects.guarded(subject_id, self._lift)
        self.audit.record(
            step="restriction_lifted",
            target="restriction",
            outcome="ok",
            actor=f"customer:{channel}",
            subject_id=subject_id,
            chain_id=subject_chain(subject_id),
        )
        return found

    def _lift(self, subject: Subject) -> RestrictionState:
        subject.ensure_active()
        if not subject.restricted:
            raise NotFound("Processing is not restricted.")
        dynamo.transact([self.subjects.lift_restriction(subject)])
        return RestrictionState(False)
