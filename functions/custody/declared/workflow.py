"""The erasure workflow's steps, named once.

`statemachines/erasure.asl.json` invokes each step by this name (`Payload.step`); the
`erasure_steps` function runs them (`custody.erasure.workflow`); the audit ledger records one
event per step run under this name; a request counts its progress in `MILESTONES`.
`tests/unit/test_workflow_contract.py` fails when the ASL, the dispatcher or this list disagree.
"""

from __future__ import annotations

from typing import Final

FREEZE: Final = "freeze"
ERASE_STORES: Final = "erase_stores"
LIST_PROCESSORS: Final = "list_processors"
ASK_PROCESSOR: Final = "ask_processor"
RECORD_PROCESSOR_OUTCOME: Final = "record_processor_outcome"
SHRED_KEY: Final = "shred_key"
DELETE_IDENTITY: Final = "delete_identity"
VERIFY: Final = "verify"
CERTIFY: Final = "certify"
RECORD_FAILURE: Final = "record_failure"

STEPS: Final = (
    FREEZE,
    ERASE_STORES,
    LIST_PROCESSORS,
    ASK_PROCESSOR,
    RECORD_PROCESSOR_OUTCOME,
    SHRED_KEY,
    DELETE_IDENTITY,
    VERIFY,
    CERTIFY,
    RECORD_FAILURE,
)

# What a request's record counts as done (`steps` on the record), in order. The store erasure is
# one milestone for every store (ListProcessors marks it, after EraseStores), and so is notifying.
NOTIFY_PROCESSORS: Final = "notify_processors"
MILESTONES: Final = (FREEZE, ERASE_STORES, NOTIFY_PROCESSORS, SHRED_KEY, DELETE_IDENTITY, VERIFY, CERTIFY)
FAILED: Final = "failed"  # the milestone RecordFailure sets (not counted as progress)
# How a Standard workflow's execution can end (Step Functions API, `DescribeExecution` `status`), and the
# word each leaves on a request that did not complete (`failure`) and in the ledger (the outcome).
EXECUTION_ENDINGS: Final = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed_out",
    "ABORTED": "aborted",
}
