"""Admission at capacity: withdrawals are accepted at any rate, erasures run at the rate the system carries.

Every erasure start goes through `Admission.start` (a withdrawal, a purpose withdrawal, the retention
sweep, `custody erasure rerun`):

1. claim a slot (`stores.erasure_slots`: at most `Settings.erasure_concurrency` executions run at
   once; retention erasures fill at most `declared.retention.retention_slots` of them, so customers'
   own withdrawals always find room);
2. with a slot, `StartExecution` at once, named by the request (`naming.execution_name`): a small burst
   starts as fast as before. Starting twice starts once (`ExecutionAlreadyExists` is a start);
3. without one, the request waits on the admission queue (`Ticket`: the request id and the
   attempt, nothing else), which the `erasure_admission` function drains (`admit_ticket`): a ticket
   that finds no slot is left on the queue for a jittered, growing delay (`defer_seconds`); one that
   reaches the queue's last receive is recorded on the request as `failed` (`not_started`), audited,
   and goes to the alarmed dead-letter queue — never silently dropped.

Slots are released when an execution ends (`custody.erasure.outcomes`, from EventBridge) and, since
those events are delivered on a best-effort basis (EventBridge, "Step Functions events"), reconciled
whenever a claim finds the pool full (`reconcile`): the oldest slots are checked and the ones whose
execution ended (or whose request is already certified, and only waits on sub-processors) are freed,
so a lost event never shrinks the capacity for good.

Step Functions and SQS are called here and nowhere else in the library (the starter records requests,
this module starts them). botocore's client retries (`custody.platform.aws.CLIENT_CONFIG`) already
back off with jitter; a start that still fails for a transient reason leaves the request on the queue.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.declared import catalog, clock, retention
from custody.declared.naming import execution_arn, execution_name, parse_execution_name
from custody.declared.settings import Settings
from custody.erasure.outcomes import Outcomes
from custody.platform.aws import clients
from custody.platform.transient import is_transient
from custody.stores.erasure_slots import ErasureSlots
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable, RequestStatus

MAX_RECEIVES: Final = catalog.ADMISSION_MAX_RECEIVES  # the queue's maxReceiveCount
DEFER_BASE_SECONDS: Final = 10
# Deferrals are capped at a minute: a slot that frees waits at most that long for a ticket to come
# back (a burst's p99 paid the 5-minute cap before: found by the burst suite), at one receive a
# minute per waiting ticket.
DEFER_MAX_SECONDS: Final = 60
# A reconcile checks this many of the oldest slots (one DescribeExecution and one GetItem each, at most).
RECONCILE_BATCH: Final = 5
# A slot whose execution does not exist is freed only this long after its claim: its StartExecution
# may still be on its way.
START_GRACE: Final = timedelta(minutes=5)
# An execution environment reconciles at most this often: with the queue's few concurrent consumers, a
# handful of DescribeExecution calls a minute, far below Step Functions' API throttling quotas.
RECONCILE_INTERVAL: Final = timedelta(seconds=30)
_last_reconcile: dict[str, datetime] = {}  # state machine ARN -> when this environment last reconciled


def defer_seconds(receive_count: int, rng: random.Random | None = None) -> int:
    """Seconds a ticket that found no slot stays invisible after its `receive_count`-th receive.

    Full jitter over an exponential cap: uniform in [1, min(DEFER_MAX_SECONDS, DEFER_BASE_SECONDS *
    2 ** (receive_count - 1))], so tickets deferred together do not come back together.
    """
    ceiling = min(DEFER_MAX_SECONDS, DEFER_BASE_SECONDS * 2 ** max(0, min(receive_count, 16) - 1))
    return (rng or random.SystemRandom()).randint(1, ceiling)


@dataclass(frozen=True)
class Ticket:
    """An erasure waiting for a slot: the admission queue's message body (ids only)."""

    request_id: str
    attempt: int = 0

    def body(self) -> str:
        """The message body: `{"request_id", "attempt"}` as compact JSON."""
        return json.dumps({"request_id": self.request_id, "attempt": self.attempt}, separators=(",", ":"))

    @classmethod
    def of(cls, body: str) -> Ticket:
        """The ticket in a message body; `ValueError` (or `KeyError`, `TypeError`) when it is not one."""
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError("Not an admission ticket.")
        attempt = int(data.get("attempt", 0))
        if not isinstance(data["request_id"], str) or attempt < 0:
            raise ValueError("Not an admission ticket.")
        return cls(data["request_id"], attempt)


@dataclass(frozen=True)
class Admitted:
    """What `Admission.start` did: the execution's name, and whether it started now (else it is queued)."""

    execution: str
    started: bool


class Admission:
    """Starts erasures within the capacity under `settings`; see the module's description."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.slots = ErasureSlots(settings)
        self.requests = RequestsTable(settings)
        self.outcomes = Outcomes(settings)
        # Endings other than SUCCEEDED this admission recorded itself (a reconcile, a ticket never
        # started): its function publishes them as the outcome function does, so the same alarm fires.
        self.unsuccessful_endings = 0

    def limit_for(self, request: ErasureRequest) -> int:
        """The slots the request may fill: the retention share for the sweep's erasures, else all of them."""
        if request.reason in (ErasureReason.RETENTION, ErasureReason.RETENTION_OBLIGATION_ENDED):
            return retention.retention_slots(self.settings)
        return self.settings.erasure_concurrency

    def start(self, request: ErasureRequest, attempt: int = 0) -> Admitted:
        """Start the request's `attempt` now if a slot is free, else put it on the admission queue.

        Raises botocore's `ClientError` when Step Functions refuses the start for a reason that is
        not transient (its slot is released first), or when the queue refuses the ticket.
        """
        if self.try_start(request, attempt):
            return Admitted(execution_name(request.request_id, attempt), started=True)
        self.enqueue(Ticket(request.request_id, attempt))
        return Admitted(execution_name(request.request_id, attempt), started=False)

    def try_start(self, request: ErasureRequest, attempt: int) -> bool:
        """Claim a slot and start the execution; False when no slot is free or the start failed transiently."""
        name = execution_name(request.request_id, attempt)
        if not self.slots.claim(name, self.limit_for(request)):
            return False
        try:
            started = self._start_execution(request, name)
        except ClientError as error:
            self.slots.release(name)
            if is_transient(error):
                return False
            raise
        if not started and self._request_closed(request.request_id):
            # The execution of that name exists and its request is completed or failed: it is not
            # running, so nothing will free the slot this claim took (a repeated withdrawal, a late ticket).
            self.slots.release(name)
        return True

    def enqueue(self, ticket: Ticket, delay_seconds: int = 0) -> None:
        """Put `ticket` on the admission queue (visible after `delay_seconds`, at most 900)."""
        clients.sqs().send_message(
            QueueUrl=self.settings.admission_queue_url, MessageBody=ticket.body(), DelaySeconds=delay_seconds
        )

    def defer(self, receipt_handle: str, seconds: int) -> None:
        """Make a received ticket visible again in `seconds` (it found no slot). One SQS call."""
        clients.sqs().change_message_visibility(
            QueueUrl=self.settings.admission_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def admit_ticket(self, ticket: Ticket, receive_count: int) -> bool:
        """Start a queued erasure if a slot allows; True when the ticket is done with (started, or no such request).

        A full pool is reconciled (`reconcile`, at most once per `RECONCILE_INTERVAL` in this execution
        environment) and the claim tried again. A ticket of a `held` request is done with: the hold's
        release starts the request. On the queue's last
        receive (`receive_count` >= `MAX_RECEIVES`) a ticket still without a slot is recorded on its
        request as failed (`not_started`) before it goes to the dead-letter queue.
        """
        request = self.requests.erasure(ticket.request_id)
        if request is None:
            return True  # nothing to start: a ticket for no request is dropped
        if request.status is RequestStatus.HELD:
            return True  # a legal hold holds it: its release starts it (custody.erasure.holds), not this ticket
        if self.try_start(request, ticket.attempt):
            return True
        if self._reconcile_due() and self.reconcile(clock.now()) and self.try_start(request, ticket.attempt):
            return True
        if receive_count >= MAX_RECEIVES:
            self.outcomes.not_started(request, execution_name(ticket.request_id, ticket.attempt))
            self.unsuccessful_endings += 1
        return False

    def reconcile(self, now: datetime) -> int:
        """Free the slots, among the `RECONCILE_BATCH` oldest, that no running erasure needs; returns how many.

        A slot is freed when its execution ended (its outcome recorded as `Outcomes.ended` records
        it: the event that should have told us may have been lost), never existed past
        `START_GRACE`, or runs on only to wait for sub-processors after its request's certificate.
        """
        freed = 0
        for name, claimed_at in self.slots.oldest(RECONCILE_BATCH):
            status = self._execution_status(name)
            if status is None and now - clock.parse(claimed_at) >= START_GRACE:
                self.slots.release(name)
            elif status is None:
                continue
            elif status != "RUNNING":
                self.unsuccessful_endings += 0 if self.outcomes.ended(name, status).succeeded else 1
            elif self._certified(name):
                self.slots.release(name)
            else:
                continue
            freed += 1
        return freed

    def _reconcile_due(self) -> bool:
        now, key = clock.now(), self.settings.erasure_state_machine_arn
        last = _last_reconcile.get(key)
        if last is not None and now - last < RECONCILE_INTERVAL:
            return False
        _last_reconcile[key] = now
        return True

    # --- Step Functions -----------------------------------------------------------------------

    def _start_execution(self, request: ErasureRequest, name: str) -> bool:
        """Start execution `name`; False when one of that name already exists (started before)."""
        # The input is ids and category names only: Step Functions keeps it for 90 days.
        workflow_input = {
            "request_id": request.request_id,
            "subject_id": request.subject_id,
            "reason": request.reason.value,
            "scope": list(request.scope),
        }
        try:
            clients.stepfunctions().start_execution(
                stateMachineArn=self.settings.erasure_state_machine_arn, name=name, input=json.dumps(workflow_input)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return False
        return True

    def _request_closed(self, request_id: str) -> bool:
        request = self.requests.erasure(request_id)
        return request is not None and request.status in (RequestStatus.COMPLETED, RequestStatus.FAILED)

    def _execution_status(self, name: str) -> str | None:
        """The execution's status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED…), or None when none exists."""
        try:
            described: dict[str, Any] = dict(
                clients.stepfunctions().describe_execution(executionArn=self._execution_arn(name))
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return None
            raise
        return str(described["status"])

    def _execution_arn(self, name: str) -> str:
        return execution_arn(self.settings.erasure_state_machine_arn, name)

    def _certified(self, name: str) -> bool:
        item = self.requests.load(parse_execution_name(name)[0])
        return bool(item and item.get("certificate_digest"))
