"""ShredKey: crypto-shredding, the subject's tombstone, and the erasure ledger's entry.

A full erasure replaces the customer's wrapped data key by a tombstone: every copy of their data
that cannot be deleted item by item (DynamoDB PITR, AWS Backup recovery points) becomes unreadable,
and no key can be made for them again. Their idempotency records are deleted, and their `subjects`
record becomes a tombstone too (id, status, request, time): granted purposes, versions, activity
and the inactivity index entry go — the derived records the data map declares
(`OperationalTable.subject_records`). Uploads
still in flight stay on it until Certify, for Verify to wait on. Every erasure records what it
covered in the erasure ledger (ids, scope, time), which survives erasure so the restore guard can
replay it over a restored table.

The keys of records a legal obligation keeps (`retained#<obligation>`) are kept by a full erasure
that keeps such records (Freeze took their categories out of its scope), and shredded by it when it
keeps none — so that no key of the kind can be made for the customer later. The erasure that ends a
retained customer's obligations (reason `retention_obligation_ended`) shreds every one of them and
leaves the subject's tombstone.
"""

from __future__ import annotations

from custody.declared import datamap, workflow
from custody.declared.clock import now_iso
from custody.erasure.contract import PlannedInput, ShredKeyInput, ShredKeyOutput
from custody.erasure.errors import TransientError
from custody.erasure.plan import kept_by_full_erasure
from custody.erasure.steps.context import StepContext
from custody.stores.erasure_ledger import ErasureLedgerTable
from custody.stores.idempotency_records import IdempotencyRecords
from custody.stores.partitions import PartialWrite


def kept_key_versions(event: PlannedInput) -> frozenset[str]:
    """The retained keys a full erasure of `event.scope` keeps: those of the obligations whose categories it kept."""
    if not event.full:
        return frozenset()
    return frozenset(
        datamap.obligation(str(category.obligation)).key_version for category in kept_by_full_erasure(event.scope)
    )


def run(context: StepContext, event: ShredKeyInput) -> ShredKeyOutput:
    """Shred the keys and leave the subject's tombstone (full erasures, and the end of a retention); record the erasure.

    A full erasure shreds the main key and the retained keys of obligations it keeps nothing under; the end
    of a retention shreds every retained key. The ledger entry (ids, reason, scope, whether the key went,
    when) is written for every erasure, and again by a re-run; `key_shredded_at` is set on the request when
    keys were shredded. Returns whether this call removed key material. Raises `TransientError` when a
    delete of idempotency records stayed partly undone (the state retries); DynamoDB errors pass through as
    botocore's `ClientError`.
    """
    shredded = False
    at = now_iso()
    shreds = event.full or event.ends_retention
    if shreds:
        if event.full:
            shredded = context.keyring.shred(event.subject_id)
        kept = kept_key_versions(event)
        for obligation in datamap.OBLIGATIONS.values():
            if obligation.key_version not in kept:
                shredded = context.keyring.shred_version(event.subject_id, obligation.key_version) or shredded
        try:
            IdempotencyRecords(context.settings).delete_subject(event.subject_id)
        except PartialWrite as partial:
            raise TransientError(str(partial)) from None
        context.subjects.tombstone(event.subject_id, event.request_id)
    ErasureLedgerTable(context.settings).record(
        event.subject_id, event.request_id, event.reason.value, event.scope, shreds, at
    )
    if shreds:
        context.requests.mark(event.request_id, workflow.SHRED_KEY, key_shredded_at=at)
    else:
        context.requests.mark(event.request_id, workflow.SHRED_KEY)
    return ShredKeyOutput(shredded=shredded)
