"""Certify: the erasure certificate, filed beside the request's audit chain, the request closed, the customer told.

The certificate holds ids, the scope, what each store erased (summed over every run and round),
the sub-processors' outcomes (counts), the execution, when it completed, the date after which no
copy is recoverable (full erasures) and the audit chain's head it follows. Its SHA-256 names it
and the certify event attests it. A completed request is certified once: a re-run returns it.

The completion notice goes to the address Freeze sealed (`custody.notices.addresses`), after the
identity was deleted: the notice is claimed, the address opened into memory and shredded (its key
and its sealed form), and only then is the certificate made — its `unrecoverable_after` counts from
the later of the key's shred and the address's, so no copy of either outlives the date it states —
and the notice sent with the certificate's digest and that date. A retention erasure, or one whose
customer had no address, completes without a notice and the request says so (`notices`).
"""

from __future__ import annotations

from typing import Any

from custody.audit.ledger import GENESIS, AuditLedger
from custody.declared import clock, datamap, naming, retention, workflow
from custody.declared.notices import NoticeKind, date_of
from custody.erasure.contract import CertifyInput, CertifyOutput
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.notices.addresses import NoticeAddresses
from custody.notices.mailer import RETENTION, SENT, Notices
from custody.stores.erasure_slots import ErasureSlots
from custody.stores.requests import (
    PROCESSOR_OUTCOMES,
    ErasureReason,
    ErasureRequest,
    ProcessorOutcome,
    RequestStatus,
)
from custody.stores.subjects import SubjectStatus


def run(context: StepContext, event: CertifyInput) -> CertifyOutput:
    """Certify the request: file the certificate on the ledger, mark the request `completed`, close it on the subject.

    A full erasure also marks the subject `erased`. The execution's admission slot is freed here, not
    when the execution ends: the sub-processors are asked after the certificate, and their answers
    may take days that must not hold capacity other customers' erasures need. The certificate's
    `stores` sums every run's and round's `erased` entries; `unrecoverable_after` (full erasures only)
    follows the later of the key's shred and (for an erasure the customer asked for) the address's,
    now (`retention.unrecoverable_after`). The completion notice is claimed, its address opened and
    shredded before the certificate, and sent after it (see the module docstring). Returns the
    certificate's SHA-256 and whether the notice was sent. Idempotent: a request already completed with
    a digest returns it and writes nothing but the slot's release (and `interrupted` on a notice its
    first run claimed and never recorded). Raises `RequestNotFound` when the event names no request of
    that subject.
    """
    request, item = context.read(event)
    notices = Notices(context.settings)
    if item.get("status") == RequestStatus.COMPLETED.value and item.get("certificate_digest"):
        ErasureSlots(context.settings).release(naming.execution_name_of(event.execution_arn))  # a retry after the mark
        notices.interrupted(request.request_id, NoticeKind.ERASURE_COMPLETION)
        return CertifyOutput(status="completed", certificate_digest=str(item["certificate_digest"]), notices_sent=0)
    addresses = NoticeAddresses(context.settings)
    customer_asked = request.reason is not ErasureReason.RETENTION
    claimed = customer_asked and notices.claim(request.request_id, NoticeKind.ERASURE_COMPLETION)
    address = addresses.open(request.request_id) if claimed else None
    addresses.shred(request.request_id)  # before the certificate: its date must cover the address too
    completed_at = clock.now()
    # An address sealed at Freeze (by this run or an earlier one) is shredded by now: count from now too.
    shredded_at = _later(item.get("key_shredded_at"), clock.iso(completed_at) if customer_asked else None)
    ledger = AuditLedger(context.settings)
    head = ledger.head(request.request_id) or {}
    certificate = {
        "request_id": request.request_id,
        "subject_id": request.subject_id,
        "reason": request.reason.value,
        "scope": sorted(request.scope),
        "stores": _sum_runs(item.get("erased", {}), stores_in_scope(request.scope)),
        "key_shredded": request.full,
        "identity_deleted": request.full,
        "sub_processors": _outcome_counts(item.get(PROCESSOR_OUTCOMES) or {}),
        "execution_arn": event.execution_arn,
        "completed_at": clock.iso(completed_at),
        "unrecoverable_after": _unrecoverable_after(context, shredded_at, completed_at) if request.full else None,
        # The chain head the certificate cites: the last event before it; certify's own event follows it.
        "ledger": {
            "chain_id": request.request_id,
            "head_seq": int(head.get("seq", 0)),
            "head_hash": str(head.get("hash", GENESIS)),
        },
    }
    digest = ledger.put_document(request.request_id, "certificate", certificate)
    context.requests.mark(
        request.request_id,
        workflow.CERTIFY,
        status=RequestStatus.COMPLETED,
        certificate=certificate,
        certificate_digest=digest,
    )
    _close(context, request)
    ErasureSlots(context.settings).release(naming.execution_name_of(event.execution_arn))
    sent = _tell(context, notices, request, claimed, address, certificate, digest)
    return CertifyOutput(status="completed", certificate_digest=digest, notices_sent=int(sent))


def _tell(
    context: StepContext,
    notices: Notices,
    request: ErasureRequest,
    claimed: bool,
    address: str | None,
    certificate: dict[str, Any],
    digest: str,
) -> bool:
    """The completion notice, or why there is none, recorded on the request; whether it was sent.

    Its date is the certificate's `unrecoverable_after`; a purpose erasure keeps the key, so what it
    erased stays in backups until they expire (`retention.copies_expire_by`), and that is its date.
    """
    if request.reason is ErasureReason.RETENTION:
        notices.not_sent(request.request_id, NoticeKind.ERASURE_COMPLETION, RETENTION)
        return False
    if not claimed:
        notices.interrupted(request.request_id, NoticeKind.ERASURE_COMPLETION)
        return False
    completed = str(certificate["completed_at"])
    unrecoverable = certificate["unrecoverable_after"] or clock.iso(
        retention.copies_expire_by(clock.parse(completed), context.settings)
    )
    outcome = notices.deliver(
        request.request_id,
        NoticeKind.ERASURE_COMPLETION,
        address,
        {
            "request_id": request.request_id,
            "completed_date": date_of(completed),
            "certificate_digest": digest,
            "unrecoverable_date": date_of(str(unrecoverable)),
        },
    )
    return outcome.status == SENT


def _later(first: Any, second: str | None) -> str | None:
    """The later of two moments in the one format (either may be missing)."""
    found = [str(moment) for moment in (first, second) if moment]
    return max(found) if found else None


def _close(context: StepContext, request: ErasureRequest) -> None:
    if request.full:
        context.subjects.mark_erasure(request.subject_id, SubjectStatus.ERASED, request.request_id)
    context.subjects.close_request(request.subject_id, request.request_id)


def _unrecoverable_after(context: StepContext, shredded_at: Any, completed_at: Any) -> str:
    """Computed where every retention date is (`custody.declared.retention`), from the shred time."""
    shredded = clock.parse(str(shredded_at)) if shredded_at else completed_at
    return clock.iso(retention.unrecoverable_after(shredded, context.settings))


def _outcome_counts(outcomes: dict[str, Any]) -> dict[str, int]:
    """How many sub-processors were asked to erase, and how each answered (ids stay on the request)."""
    answered = list(outcomes.values())
    return {
        "notified": len(answered),
        "confirmed": answered.count(ProcessorOutcome.CONFIRMED.value),
        "unconfirmed": answered.count(ProcessorOutcome.UNCONFIRMED.value),
    }


def _sum_runs(runs: dict[str, Any], stores: tuple[datamap.Store, ...]) -> dict[str, int]:
    """What every run of the Map erased, store by store (a re-run or another round adds to it)."""
    return {store.name: sum(int(run.get(store.name, 0)) for run in runs.values()) for store in stores}
