"""Certify: the erasure certificate, filed beside the request's audit chain, and the request closed.

The certificate holds ids, the scope, what each store erased (summed over every run and round),
the sub-processors' outcomes (counts), the execution, when it completed, the date after which no
copy is recoverable (full erasures) and the audit chain's head it follows. Its SHA-256 names it
and the certify event attests it. A completed request is certified once: a re-run returns it.
"""

from __future__ import annotations

from typing import Any

from custody.audit.ledger import GENESIS, AuditLedger
from custody.declared import clock, datamap, naming, retention, workflow
from custody.erasure.contract import CertifyInput, CertifyOutput
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.stores.erasure_slots import ErasureSlots
from custody.stores.requests import PROCESSOR_OUTCOMES, ErasureRequest, ProcessorOutcome, RequestStatus
from custody.stores.subjects import SubjectStatus


def run(context: StepContext, event: CertifyInput) -> CertifyOutput:
    """Certify the request: file the certificate on the ledger, mark the request `completed`, close it on the subject.

    A full erasure also marks the subject `erased`. The execution's admission slot is freed here, not
    when the execution ends: the sub-processors are asked after the certificate, and their answers
    may take days that must not hold capacity other customers' erasures need. The certificate's
    `stores` sums every run's and round's `erased` entries; `unrecoverable_after` (full erasures only)
    follows the key's shred time (`retention.unrecoverable_after`). Returns the certificate's SHA-256.
    Idempotent: a request already completed with a digest returns it and writes nothing but the slot's
    release. Raises `RequestNotFound` when the event names no request of that subject.
    """
    request, item = context.read(event)
    if item.get("status") == RequestStatus.COMPLETED.value and item.get("certificate_digest"):
        ErasureSlots(context.settings).release(naming.execution_name_of(event.execution_arn))  # a retry after the mark
        return CertifyOutput(status="completed", certificate_digest=str(item["certificate_digest"]))
    completed_at = clock.now()
    shredded_at = item.get("key_shredded_at")
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
    return CertifyOutput(status="completed", certificate_digest=digest)


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
