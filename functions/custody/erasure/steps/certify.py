"""Certify: the erasure certificate, filed beside the request's audit chain, the request closed, the customer told.

The certificate holds ids, the scope, what each store erased (summed over every run and round),
the sub-processors' outcomes (counts), the execution, when it completed, the date after which no
copy is recoverable (when keys were shredded) and the audit chain's head it follows. Its SHA-256 names
it and the certify event attests it. A completed request is certified once: a re-run returns it.

What a legal obligation kept is certified too. A full erasure that kept records lists them under
`retained` — per category its obligation, legal basis (GDPR art. 6(1)(c), 17(3)(b)), key version, how
many records and the last day they are kept (`until`) — and, before the certificate, writes one
`records_retained` event per obligation on the request's chain (target `obligation/<name>:<until>`,
counts per category): the facts a notice to the customer needs, attested by the chain the certificate
follows. The subject then becomes `retained` until the last of them ends. The erasure that ends the
retention lists what ended under `obligations_ended`, and the subject becomes `erased`.

The completion notice goes to the address Freeze sealed (`custody.notices.addresses`), after the
identity was deleted: the notice is claimed, the address opened into memory and shredded (its key
and its sealed form), and only then is the certificate made — its `unrecoverable_after` counts from
the later of the key's shred and the address's, so no copy of either outlives the date it states —
and the notice sent with the certificate's digest and that date; when records were kept under a
legal obligation, a second notice (`retention_kept`) says which, why and until when, from the same
address in memory. An erasure nobody asked for (the sweep's), or one whose customer had no address,
completes without a notice and the request says so (`notices`).
"""

from __future__ import annotations

from typing import Any

from custody.audit.ledger import GENESIS, AuditLedger
from custody.declared import clock, datamap, naming, retention, workflow
from custody.declared.notices import NoticeKind, date_of
from custody.erasure.contract import CertifyInput, CertifyOutput
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.erasure.steps.freeze import RETAINED, retention_ends_at
from custody.notices.addresses import NoticeAddresses
from custody.notices.mailer import RETENTION, SENT, Notices
from custody.stores.erasure_slots import ErasureSlots
from custody.stores.requests import (
    ASKED_BY_SUBJECT,
    PROCESSOR_OUTCOMES,
    ErasureRequest,
    ProcessorOutcome,
    RequestStatus,
)
from custody.stores.subjects import SubjectStatus

OBLIGATIONS_ENDED = "obligations_ended"  # the request's attribute: what the end of a retention erases
KEY_VERSION = "1"  # the customer's main key (custody.crypto.keyring.KEY_VERSION)


def run(context: StepContext, event: CertifyInput) -> CertifyOutput:
    """Certify the request: file the certificate on the ledger, mark the request `completed`, close it on the subject.

    A full erasure marks the subject `erased`, or `retained` (with when each obligation ends) when it kept
    records under a legal obligation; the end of a retention marks it `erased`. The execution's admission
    slot is freed here, not when the execution ends: the sub-processors are asked after the certificate,
    and their answers may take days that must not hold capacity other customers' erasures need. The
    certificate's `stores` sums every run's and round's `erased` entries; `unrecoverable_after` (when keys
    were shredded) follows the shred time (`retention.unrecoverable_after`). Returns the certificate's
    SHA-256. Idempotent: a request already completed with a digest returns it, closes it on the subject
    again (a retry after a crash between the two) and releases the slot. Raises `RequestNotFound` when the
    event names no request of that subject.

    The completion notice (and, when records were kept, the `retention_kept` notice) is claimed, its
    address opened and shredded before the certificate, and sent after it (see the module docstring);
    `notices_sent` counts them.
    """
    request, item = context.read(event)
    notices = Notices(context.settings)
    if item.get("status") == RequestStatus.COMPLETED.value and item.get("certificate_digest"):
        _close(context, request, item)  # a retry after the mark: the subject's status is set again (idempotent)
        ErasureSlots(context.settings).release(naming.execution_name_of(event.execution_arn))
        notices.interrupted(request.request_id, NoticeKind.ERASURE_COMPLETION)
        notices.interrupted(request.request_id, NoticeKind.RETENTION_KEPT)
        return CertifyOutput(status="completed", certificate_digest=str(item["certificate_digest"]), notices_sent=0)
    kept: list[dict[str, Any]] = list(item.get(RETAINED) or []) if request.full else []
    addresses = NoticeAddresses(context.settings)
    customer_asked = request.reason in ASKED_BY_SUBJECT
    claimed = customer_asked and notices.claim(request.request_id, NoticeKind.ERASURE_COMPLETION)
    claimed_kept = claimed and bool(kept) and notices.claim(request.request_id, NoticeKind.RETENTION_KEPT)
    address = addresses.open(request.request_id) if claimed else None
    addresses.shred(request.request_id)  # before the certificate: its date must cover the address too
    completed_at = clock.now()
    # An address sealed at Freeze (by this run or an earlier one) is shredded by now: count from now too.
    shredded_at = _later(item.get("key_shredded_at"), clock.iso(completed_at) if customer_asked else None)
    ledger = AuditLedger(context.settings)
    _record_retained(ledger, request, kept)
    head = ledger.head(request.request_id) or {}
    shreds = request.full or request.ends_retention
    certificate = {
        "request_id": request.request_id,
        "subject_id": request.subject_id,
        "reason": request.reason.value,
        "scope": sorted(request.scope),
        "stores": _sum_runs(item.get("erased", {}), stores_in_scope(request.scope)),
        "key_shredded": shreds,
        "keys_shredded": _keys_shredded(request, kept),
        "identity_deleted": request.full,
        "retained": [_retained_entry(entry) for entry in kept],
        OBLIGATIONS_ENDED: list(item.get(OBLIGATIONS_ENDED) or []) if request.ends_retention else [],
        "subject_status": _subject_status(request, kept),
        "sub_processors": _outcome_counts(item.get(PROCESSOR_OUTCOMES) or {}),
        "execution_arn": event.execution_arn,
        "completed_at": clock.iso(completed_at),
        "unrecoverable_after": _unrecoverable_after(context, shredded_at, completed_at) if shreds else None,
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
    _close(context, request, item)
    ErasureSlots(context.settings).release(naming.execution_name_of(event.execution_arn))
    sent = int(_tell(context, notices, request, claimed, address, certificate, digest))
    sent += _tell_kept(notices, request, claimed_kept, address, kept)
    return CertifyOutput(status="completed", certificate_digest=digest, notices_sent=sent)


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
    if request.reason not in ASKED_BY_SUBJECT:
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


def _tell_kept(
    notices: Notices, request: ErasureRequest, claimed: bool, address: str | None, kept: list[dict[str, Any]]
) -> int:
    """The `retention_kept` notice: which categories the law keeps, under which obligation and basis, until when.

    Sent only beside a completion notice this run claimed (the address is then in memory); 1 when sent.
    With records under several obligations it names the one kept longest and every kept category.
    """
    if not kept:
        return 0
    if not claimed:
        notices.interrupted(request.request_id, NoticeKind.RETENTION_KEPT)
        return 0
    longest = max(kept, key=lambda entry: str(entry["until"]))
    obligation = datamap.obligation(str(longest["obligation"]))
    outcome = notices.deliver(
        request.request_id,
        NoticeKind.RETENTION_KEPT,
        address,
        {
            "request_id": request.request_id,
            "categories": ", ".join(sorted({str(entry["category"]) for entry in kept})),
            "until_date": str(longest["until"]),
            "obligation": obligation.name,
            "legal_basis": obligation.legal_basis,
        },
        vocabulary={
            "obligation": frozenset(datamap.OBLIGATIONS),
            "legal_basis": frozenset(item.legal_basis for item in datamap.OBLIGATIONS.values()),
        },
    )
    return int(outcome.status == SENT)


def _later(first: Any, second: str | None) -> str | None:
    """The later of two moments in the one format (either may be missing)."""
    found = [str(moment) for moment in (first, second) if moment]
    return max(found) if found else None


def _record_retained(ledger: AuditLedger, request: ErasureRequest, kept: list[dict[str, Any]]) -> None:
    """One `records_retained` event per obligation kept under: its last day in the target, its records by category."""
    by_obligation: dict[str, list[dict[str, Any]]] = {}
    for entry in kept:
        by_obligation.setdefault(str(entry["obligation"]), []).append(entry)
    for name, entries in sorted(by_obligation.items()):
        until = max(str(entry["until"]) for entry in entries)
        ledger.record(
            step="records_retained",
            target=f"obligation/{name}:{until}",
            outcome="retained",
            actor="erasure-workflow",
            request_id=request.request_id,
            subject_id=request.subject_id,
            counts={str(entry["category"]): int(entry["items"]) for entry in entries},
        )


def _retained_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "category": str(entry["category"]),
        "obligation": str(entry["obligation"]),
        "legal_basis": str(entry["legal_basis"]),
        "key_version": str(entry["key_version"]),
        "items": int(entry["items"]),
        "until": str(entry["until"]),
    }


def _keys_shredded(request: ErasureRequest, kept: list[dict[str, Any]]) -> list[str]:
    """The key versions this erasure shredded.

    The main key and the retained keys it did not keep (a full erasure), or every retained key (the end
    of a retention).
    """
    if not (request.full or request.ends_retention):
        return []
    kept_versions = {str(entry["key_version"]) for entry in kept}
    retained = [obligation.key_version for obligation in datamap.OBLIGATIONS.values()]
    main = [KEY_VERSION] if request.full else []
    return main + sorted(version for version in retained if version not in kept_versions)


def _subject_status(request: ErasureRequest, kept: list[dict[str, Any]]) -> str | None:
    if request.ends_retention:
        return SubjectStatus.ERASED.value
    if request.full:
        return (SubjectStatus.RETAINED if kept else SubjectStatus.ERASED).value
    return None


def _close(context: StepContext, request: ErasureRequest, item: dict[str, Any]) -> None:
    kept: list[dict[str, Any]] = list(item.get(RETAINED) or []) if request.full else []
    if request.full and kept:
        until_by_obligation: dict[str, str] = {}
        for entry in kept:
            name, until = str(entry["obligation"]), str(entry["until"])
            until_by_obligation[name] = max(until, until_by_obligation.get(name, until))
        context.subjects.mark_retained(
            request.subject_id, request.request_id, until_by_obligation, retention_ends_at(kept)
        )
    elif request.full:
        context.subjects.mark_erasure(request.subject_id, SubjectStatus.ERASED, request.request_id)
    elif request.ends_retention:
        context.subjects.mark_erasure(
            request.subject_id, SubjectStatus.ERASED, request.request_id, ending_retention=True
        )
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
