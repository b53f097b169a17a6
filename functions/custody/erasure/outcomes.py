"""How an erasure execution ended, recorded whatever ended it: the slot freed, a failure on the request.

EventBridge delivers Step Functions' "Step Functions Execution Status Change" events for the erasure
state machine (`infra.constructs.admission`) to the `erasure_outcomes` function. A run can end without
its `RecordFailure` state running — the 25,000-event history limit, a timeout, an operator's abort,
a throttled `RecordFailure` — so every ending but `SUCCEEDED` is recorded here:

* the execution's slot is released (`stores.erasure_slots`), whatever the status;
* the request is marked `failed` unless it is completed (`RequestsTable.fail_unless_completed`): a
  later successful re-run wins, and a `RecordFailure` that already marked it changes nothing but
  the failure's word (`execution_failed`, `execution_timed_out`, `execution_aborted`);
* one audit event on the request's chain (`erasure_ended`, outcome the status's word: ids only);
* the caller (the handler) publishes a metric, which an alarm watches.

Recording twice (EventBridge delivers at least once; a reconcile may find the same ending) records
the same state again and appends a second audit event: harmless, and the ledger stays a true log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from custody.audit.ledger import AuditLedger
from custody.declared import workflow
from custody.declared.naming import parse_execution_name
from custody.declared.settings import Settings
from custody.stores.erasure_slots import ErasureSlots
from custody.stores.requests import ErasureRequest, RequestsTable

OUTCOMES_ACTOR: Final = "erasure-outcomes"
SUCCEEDED: Final = "SUCCEEDED"
ENDINGS: Final = workflow.EXECUTION_ENDINGS
NOT_STARTED: Final = "not_started"


@dataclass(frozen=True)
class Ending:
    """What recording an ending did: the status, whether the request was marked failed now."""

    status: str
    marked_failed: bool

    @property
    def succeeded(self) -> bool:
        """Whether the execution succeeded (nothing was recorded but the slot's release)."""
        return self.status == SUCCEEDED


class Outcomes:
    """Records how erasure executions ended under `settings`. DynamoDB and S3 errors pass through."""

    def __init__(self, settings: Settings) -> None:
        self.slots = ErasureSlots(settings)
        self.requests = RequestsTable(settings)
        self.audit = AuditLedger(settings)

    def ended(self, execution: str, status: str) -> Ending:
        """The execution named `execution` ended with `status` (one of `ENDINGS`): release, record, audit.

        Raises `ValueError` for a status that is not an ending (RUNNING, PENDING_REDRIVE): nothing is done.
        """
        if status not in ENDINGS:
            raise ValueError("Not a terminal execution status.")
        self.slots.release(execution)
        if status == SUCCEEDED:
            return Ending(status, marked_failed=False)
        request_id = parse_execution_name(execution)[0]
        word = ENDINGS[status]
        marked = self.requests.fail_unless_completed(request_id, workflow.FAILED, f"execution_{word}")
        item = self.requests.load(request_id)
        if item is not None:
            self.audit.record(
                step="erasure_ended",
                target="workflow",
                outcome=word,
                actor=OUTCOMES_ACTOR,
                request_id=request_id,
                subject_id=str(item["subject_id"]),
            )
        return Ending(status, marked_failed=marked)

    def not_started(self, request: ErasureRequest, execution: str) -> bool:
        """A queued erasure never found a slot and leaves the queue for its dead-letter queue: record it failed.

        Returns whether the request was marked failed (not when it completed meanwhile).
        """
        marked = self.requests.fail_unless_completed(request.request_id, workflow.FAILED, NOT_STARTED)
        self.slots.release(execution)
        self.audit.record(
            step="erasure_ended",
            target="workflow",
            outcome=NOT_STARTED,
            actor=OUTCOMES_ACTOR,
            request_id=request.request_id,
            subject_id=request.subject_id,
        )
        return marked
