"""ShredKey: crypto-shredding, and the erasure ledger's entry.

A full erasure deletes the customer's wrapped data key: every copy of their data that cannot be
deleted item by item (DynamoDB PITR, AWS Backup recovery points) becomes unreadable. Every erasure
records what it covered in the erasure ledger (ids, scope, time), which survives erasure so the
restore guard can replay it over a restored table.
"""

from __future__ import annotations

from custody.declared import workflow
from custody.declared.clock import now_iso
from custody.erasure.contract import ShredKeyInput, ShredKeyOutput
from custody.erasure.steps.context import StepContext
from custody.stores.erasure_ledger import ErasureLedgerTable


def run(context: StepContext, event: ShredKeyInput) -> ShredKeyOutput:
    """Crypto-shred the customer's data key (full erasures only) and record the erasure in the erasure ledger.

    The ledger entry (ids, reason, scope, whether the key went, when) is written for every erasure, and
    again by a re-run. Returns whether this call deleted a key version. DynamoDB errors pass through as
    botocore's `ClientError`.
    """
    shredded = context.keyring.shred(event.subject_id) if event.full else False
    at = now_iso()
    ErasureLedgerTable(context.settings).record(
        event.subject_id, event.request_id, event.reason.value, event.scope, event.full, at
    )
    context.requests.mark(event.request_id, workflow.SHRED_KEY, key_shredded_at=at if event.full else None)
    return ShredKeyOutput(shredded=shredded)
