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
"""

from __future__ import annotations

from custody.declared import workflow
from custody.declared.clock import now_iso
from custody.erasure.contract import ShredKeyInput, ShredKeyOutput
from custody.erasure.errors import TransientError
from custody.erasure.steps.context import StepContext
from custody.stores.erasure_ledger import ErasureLedgerTable
from custody.stores.idempotency_records import IdempotencyRecords
from custody.stores.partitions import PartialWrite


def run(context: StepContext, event: ShredKeyInput) -> ShredKeyOutput:
    """Shred the key and leave the subject's tombstone (full erasures); record the erasure in the erasure ledger.

    The ledger entry (ids, reason, scope, whether the key went, when) is written for every erasure, and
    again by a re-run; `key_shredded_at` is set on the request for a full erasure only. Returns whether
    this call removed key material. Raises `TransientError` when a delete of idempotency records stayed
    partly undone (the state retries); DynamoDB errors pass through as botocore's `ClientError`.
    """
    shredded = False
    at = now_iso()
    if event.full:
        shredded = context.keyring.shred(event.subject_id)
        try:
            IdempotencyRecords(context.settings).delete_subject(event.subject_id)
        except PartialWrite as partial:
            raise TransientError(str(partial)) from None
        context.subjects.tombstone(event.subject_id, event.request_id)
    ErasureLedgerTable(context.settings).record(
        event.subject_id, event.request_id, event.reason.value, event.scope, event.full, at
    )
    if event.full:
        context.requests.mark(event.request_id, workflow.SHRED_KEY, key_shredded_at=at)
    else:
        context.requests.mark(event.request_id, workflow.SHRED_KEY)
    return ShredKeyOutput(shredded=shredded)
