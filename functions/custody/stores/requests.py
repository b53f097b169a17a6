"""The `requests` table: one record per data-subject request, followed by an unguessable id — the register.

A record holds ids, statuses, counts and timestamps — never personal data — so it outlives the
customer's account and `GET /v1/requests/{request_id}` keeps answering after erasure. This
module is the only code that reads or writes the table; the erasure workflow's steps record
their progress through `RequestsTable.mark`.

Every kind of data-subject request (`custody.declared.jurisdictions.RequestKind`) has its record
here, so the register of requests — when each was received, when it is due, whether it was
extended, how it ended — is one table with one owner:

* every record: `{request_id, kind, subject_id, status, created_at (received), updated_at,
  jurisdiction?, due_at?, open_kind?, extension?: {reason, extended_at, previous_due_at, by},
  completed_at?, outcome?, notices?: {notice kind: {status, at, reason?, message_id?}}}`. `due_at`
  is given at receipt under `jurisdiction` (`custody.declared.jurisdictions`); a retention erasure,
  which no data subject asked for, has none. `open_kind` is the kind while the request is open
  (`OPEN_STATUSES`) and removed when it completes: the sparse `by_due` index holds exactly the open
  requests, by kind and due date, so "what falls due next" is a Query, never a Scan.
* an erasure adds `{reason, scope: [category], steps: {milestone: when}, erased:
  {"<execution>#<round>": {store: n}}, processors: [processor id], sub_processors: {processor id:
  outcome}, token_seals: {processor id: seal}, key_shredded_at?, certificate?, certificate_digest?,
  failure?, notice_address?, hold?: {reason_code, until}, hold_released_at?, retained?: [retained
  records], obligations_ended?: [ended obligations]}` (`notice_address`: the customer's address sealed
  from Freeze until Certify sends the completion notice, `custody.notices.addresses`).
* an access request is the portable export of that id (`custody.customers.exports`), a rectification
  the change request of that id (`custody.customers.change_requests`): the customer's own ids name
  them here too. Their own records hold what the customer asked; this one holds the deadline.

Only erasures carry `reason`: the erasure-only readers of the `by_status` index (the SLA measure,
the disposal register) keep to records that have one (`ERASURES_ONLY`).

`hold` is the legal hold a request waits on while `held` (its reason code and last day: what the
customer is told), `retained` what a full erasure kept under a legal obligation (set by Freeze: for each
category, `{category, obligation, legal_basis, key_version, items, until}`), `obligations_ended` what
the retention sweep's erasure (reason `retention_obligation_ended`) ends (`{obligation, legal_basis,
categories, until}`). Dates are `YYYY-MM-DD`; none of it is personal data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from custody.declared import clock, datamap
from custody.declared.clock import now_iso
from custody.declared.jurisdictions import RequestKind, jurisdiction
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "requests"
KIND_ERASURE: Final = RequestKind.ERASURE.value
PROCESSOR_OUTCOMES: Final = "sub_processors"
TOKEN_SEALS: Final = "token_seals"  # noqa: S105 - an attribute name, not a secret
# The sparse `by_due` index's partition key: the request's kind while it is open, removed when it completes.
OPEN_KIND: Final = datamap.REQUEST_OPEN_KIND
NOTICES: Final = "notices"
EXTENSION: Final = "extension"
# An erasure's customer address, sealed with the request's notice key from Freeze until Certify.
NOTICE_ADDRESS: Final = "notice_address"
# A filter on the `by_status` index (which projects `reason`): erasure requests only.
ERASURES_ONLY: Final = "attribute_exists(reason)"


class ErasureReason(StrEnum):
    """Why a subject is erased; decides the scope (`FULL_ERASURE_REASONS`) and the disposal policy cited."""

    WITHDRAWAL = "withdrawal"  # the customer withdrew (everything)
    PURPOSE_WITHDRAWN = "purpose_withdrawn"  # one purpose withdrawn: what it alone justified
    RETENTION = "retention"  # inactive past the retention period (everything)
    # the legal obligations that kept a customer's records after their full erasure ended: those records,
    # their retained keys, and the access log of reads made of them meanwhile
    RETENTION_OBLIGATION_ENDED = "retention_obligation_ended"


# The reasons that erase the customer entirely: data, key, identity. Decided here and nowhere else. A
# full erasure keeps what a legal obligation keeps (`datamap.Category.obligation`): Freeze narrows its scope.
FULL_ERASURE_REASONS: Final = frozenset({ErasureReason.WITHDRAWAL, ErasureReason.RETENTION})
# The reasons a data subject asked for: only these are due under a jurisdiction's period and end with a
# notice to the customer. The sweep's erasures (inactivity, an obligation's end) were asked by nobody, and
# the second comes years after the customer's address was shredded.
ASKED_BY_SUBJECT: Final = frozenset({ErasureReason.WITHDRAWAL, ErasureReason.PURPOSE_WITHDRAWN})


class RequestStatus(StrEnum):
    """Where a request stands: `received`, `in_progress` (from Freeze), `completed` (Certify) or `failed`.

    A `failed` request (RecordFailure) stays open (`OPEN_STATUSES`) until a re-run completes it. A
    request made while a legal hold lies on the subject is `held`: recorded, not started, until the hold
    is lifted or ends (then `received`, and started: `custody.erasure.holds`).
    """

    HELD = "held"
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


# Requests the erasure SLA measures (`custody.retention.disposal.open_erasures`). A `held` request is open
# too but waits lawfully: it is measured apart (`held_erasures`), past its response date included.
OPEN_STATUSES: Final = (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS, RequestStatus.FAILED)


class ProcessorOutcome(StrEnum):
    """A sub-processor's answer to a deletion request, kept on the request under `sub_processors`.

    `notified`: listed and asked, its acknowledgement awaited; `confirmed`: its acknowledgement came
    back for this request; `unconfirmed`: the wait timed out or failed, or the acknowledgement named
    another processor or request (the workflow then alarms, state `Escalate`).
    """

    NOTIFIED = "notified"
    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class ErasureRequest:
    """An erasure request as recorded (the workflow reads its scope and reason from here)."""

    request_id: str
    subject_id: str
    reason: ErasureReason
    scope: tuple[str, ...]  # the data-map categories to erase; every category for a full erasure
    status: RequestStatus
    created_at: str
    processors: tuple[str, ...] = ()  # a `sharing:` withdrawal: only these sub-processors are notified
    hold: dict[str, str] | None = None  # while `held`: the legal hold's `reason_code` and `until` (YYYY-MM-DD)
    jurisdiction: str | None = None  # the law it is due under; None: no data subject asked (retention)
    due_at: str | None = None

    @property
    def full(self) -> bool:
        """Whether it erases the customer entirely (data, key and identity), not one purpose's categories."""
        return self.reason in FULL_ERASURE_REASONS

    @property
    def ends_retention(self) -> bool:
        """Whether it erases what legal obligations kept after a full erasure (their records and retained keys)."""
        return self.reason is ErasureReason.RETENTION_OBLIGATION_ENDED

    def status_url(self) -> str:
        """Where the request's status is read: `/v1/requests/<request id>` (public, no personal data)."""
        return f"/v1/requests/{self.request_id}"

    @classmethod
    def new(
        cls,
        subject_id: str,
        reason: ErasureReason,
        scope: Iterable[str],
        processors: Iterable[str] = (),
        hold: dict[str, str] | None = None,
        *,
        jurisdiction: str | None = None,
    ) -> ErasureRequest:
        """A request not yet recorded, with a fresh id and status `received` (`held` under a legal `hold`).

        The id is a UUID4 (122 random bits: unguessable, and a valid Step Functions execution name).
        A full erasure's scope is every category of the data map, whatever `scope` says (Freeze takes out
        what a legal obligation keeps). `hold`: the subject's legal hold (`reason_code`, `until`). With a
        `jurisdiction` (a declared code) a request a data subject asked for (`ASKED_BY_SUBJECT`) is due under
        that law's period from now; the others are given none. Raises `KeyError` for an undeclared
        jurisdiction.
        """
        categories = tuple(item.name for item in datamap.CATEGORIES) if reason in FULL_ERASURE_REASONS else scope
        request_id = str(uuid.uuid4())
        status = RequestStatus.HELD if hold else RequestStatus.RECEIVED
        at = now_iso()
        due_at = due_at_of(jurisdiction, at) if jurisdiction and reason in ASKED_BY_SUBJECT else None
        return cls(
            request_id,
            subject_id,
            reason,
            tuple(categories),
            status,
            at,
            tuple(processors),
            dict(hold) if hold else None,
            jurisdiction if due_at else None,
            due_at,
        )

    @classmethod
    def of(cls, item: dict[str, Any]) -> ErasureRequest:
        """The request a `requests` record holds (plain values, as `RequestsTable.load` returns them).

        Raises `KeyError` for a missing field and `ValueError` for an unknown reason or status.
        """
        return cls(
            str(item["request_id"]),
            str(item["subject_id"]),
            ErasureReason(item["reason"]),
            tuple(item["scope"]),
            RequestStatus(item["status"]),
            str(item["created_at"]),
            tuple(item.get("processors", ())),
            {str(key): str(value) for key, value in item["hold"].items()} if item.get("hold") else None,
            item.get("jurisdiction"),
            item.get("due_at"),
        )

    def to_item(self) -> dict[str, Any]:
        """The record of a new request: its fields, `kind`, empty `steps` and `erased`, `updated_at` = `created_at`.

        A request with a due date is open in the `by_due` index (`open_kind`).
        """
        item: dict[str, Any] = {
            "request_id": self.request_id,
            "kind": KIND_ERASURE,
            "subject_id": self.subject_id,
            "reason": self.reason.value,
            "scope": list(self.scope),
            "status": self.status.value,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "steps": {},
            "erased": {},
            "processors": list(self.processors),
            **({"hold": dict(self.hold)} if self.hold else {}),
        }
        if self.due_at is not None:
            item.update({"jurisdiction": self.jurisdiction, "due_at": self.due_at, OPEN_KIND: KIND_ERASURE})
        return item


def due_at_of(code: str, received_at: str) -> str:
    """When a request received at `received_at` (the one format) is due under jurisdiction `code`, in the one format.

    Raises `KeyError` for an undeclared jurisdiction.
    """
    return clock.iso(jurisdiction(code).due_at(clock.parse(received_at)))


@dataclass(frozen=True)
class DataRequest:
    """A data-subject request other than an erasure, as the register records it: ids, status, dates.

    `request_id` is the id the customer already holds for it (the export's, the change request's).
    """

    request_id: str
    kind: RequestKind
    subject_id: str
    jurisdiction: str
    created_at: str
    due_at: str
    status: RequestStatus = RequestStatus.RECEIVED

    @classmethod
    def received(cls, kind: RequestKind, request_id: str, subject_id: str, jurisdiction: str) -> DataRequest:
        """A request of `kind` received now, due under `jurisdiction` (a declared code; `KeyError` otherwise).

        Raises `ValueError` for an erasure, which is recorded as an `ErasureRequest`.
        """
        if kind is RequestKind.ERASURE:
            raise ValueError("An erasure is recorded as an ErasureRequest.")
        at = now_iso()
        return cls(request_id, kind, subject_id, jurisdiction, at, due_at_of(jurisdiction, at))

    def to_item(self) -> dict[str, Any]:
        """The record of the new request, open in the `by_due` index."""
        return {
            "request_id": self.request_id,
            "kind": self.kind.value,
            "subject_id": self.subject_id,
            "status": self.status.value,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "jurisdiction": self.jurisdiction,
            "due_at": self.due_at,
            OPEN_KIND: self.kind.value,
        }

    def status_url(self) -> str:
        """Where the request's status is read: `/v1/requests/<request id>` (public, no personal data)."""
        return f"/v1/requests/{self.request_id}"


class RequestsTable:
    """The repository of the `requests` table."""

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def load(self, request_id: str) -> dict[str, Any] | None:
        """The whole record (consistent read), or None."""
        return dynamo.get(self.table, {"request_id": request_id})

    def erasure(self, request_id: str) -> ErasureRequest | None:
        """The erasure request of `request_id` (consistent read), or None (none, or a request of another kind)."""
        item = self.load(request_id)
        return ErasureRequest.of(item) if item and item.get("kind", KIND_ERASURE) == KIND_ERASURE else None

    def put_new(
        self, request: ErasureRequest | DataRequest, extra: dict[str, Any] | None = None
    ) -> TransactWriteItemTypeDef:
        """The transaction item that records a new request (refused if the id exists), with `extra` fields."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.to_item({**request.to_item(), **(extra or {})}),
                "ConditionExpression": "attribute_not_exists(request_id)",
            }
        }

    def mark(self, request_id: str, *milestones: str, status: RequestStatus | None = None, **values: Any) -> None:
        """Record milestones as reached (idempotently: a re-run only moves their time) and set fields.

        A value's name may be `map.key`, which sets one entry of a map attribute (the key may hold
        any character but a dot). Every call moves `updated_at`. Status `completed` also sets
        `completed_at` and takes the request out of the `by_due` index (it is no longer open).
        """
        names = {f"#step{index}": milestone for index, milestone in enumerate(milestones)}
        sets = [f"steps.{name} = :at" for name in names] + ["updated_at = :at"]
        attribute_values: dict[str, Any] = {":at": now_iso()}
        removes = ""
        if status is not None:
            sets.append("#status = :status")
            names["#status"] = "status"
            attribute_values[":status"] = status.value
            if status is RequestStatus.COMPLETED:
                sets.append("completed_at = :at")
                removes = f" REMOVE {OPEN_KIND}"
        for index, (path, value) in enumerate(values.items()):
            segments = path.split(".", 1)
            placeholders = [f"#v{index}_{depth}" for depth in range(len(segments))]
            names.update(zip(placeholders, segments, strict=True))
            sets.append(f"{'.'.join(placeholders)} = :v{index}")
            attribute_values[f":v{index}"] = value
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=dynamo.to_item({"request_id": request_id}),
            UpdateExpression="SET " + ", ".join(sets) + removes,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=dynamo.to_values(attribute_values),
        )

    def fail_unless_completed(self, request_id: str, milestone: str, failure: str) -> bool:
        """Mark the request `failed` with `failure` (a status word) unless it is closed or held; returns whether it was.

        A `held` request stays held: a legal hold's release must still find it.

        A completed request stays completed (a later successful re-run wins); a request already
        failed keeps its `failure` (RecordFailure's names the step's error, which says more than the
        execution's status; a re-run's Freeze moves the request back to `in_progress` first). A
        missing request is not created (False).
        """
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"request_id": request_id}),
                UpdateExpression="SET #status = :failed, failure = :failure, updated_at = :at, steps.#milestone = :at",
                ConditionExpression="attribute_exists(request_id) AND NOT #status IN (:completed, :failed, :held)",
                ExpressionAttributeNames={"#status": "status", "#milestone": milestone},
                ExpressionAttributeValues=dynamo.to_values(
                    {
                        ":failed": RequestStatus.FAILED.value,
                        ":completed": RequestStatus.COMPLETED.value,
                        ":held": RequestStatus.HELD.value,
                        ":failure": failure,
                        ":at": now_iso(),
                    }
                ),
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return False
            raise
        return True

    def release_hold(self, request_id: str) -> TransactWriteItemTypeDef:
        """The transaction item that moves a `held` request to `received` (its hold ended or was lifted).

        Refused (the transaction fails) unless the request is `held`: it is released once. The hold stays
        on the record as history; `hold_released_at` says when it stopped holding.
        """
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"request_id": request_id}),
                "UpdateExpression": "SET #status = :received, hold_released_at = :at, updated_at = :at",
                "ConditionExpression": "#status = :held",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": dynamo.to_values(
                    {
                        ":received": RequestStatus.RECEIVED.value,
                        ":held": RequestStatus.HELD.value,
                        ":at": now_iso(),
                    }
                ),
            }
        }

    def rehold(self, request_id: str, hold: dict[str, str]) -> TransactWriteItemTypeDef:
        """The transaction item that gives a `held` request its subject's new hold (placed again: a new `until`).

        Refused (the transaction fails) unless the request is still `held`.
        """
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"request_id": request_id}),
                "UpdateExpression": "SET #hold = :hold, updated_at = :at",
                "ConditionExpression": "#status = :held",
                "ExpressionAttributeNames": {"#status": "status", "#hold": "hold"},
                "ExpressionAttributeValues": dynamo.to_values(
                    {":hold": dict(hold), ":held": RequestStatus.HELD.value, ":at": now_iso()}
                ),
            }
        }

    def seal_token(self, request_id: str, processor_id: str, seal: str) -> None:
        """Keep the seal of the task token sent to `processor_id`; only while that processor is being asked.

        Raises `botocore` `ConditionalCheckFailedException` when the processor is not `notified`.
        """
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=dynamo.to_item({"request_id": request_id}),
            UpdateExpression="SET #seals.#processor = :seal",
            ConditionExpression="#outcomes.#processor = :notified",
            ExpressionAttributeNames={
                "#seals": TOKEN_SEALS,
                "#outcomes": PROCESSOR_OUTCOMES,
                "#processor": processor_id,
            },
            ExpressionAttributeValues=dynamo.to_values({":seal": seal, ":notified": ProcessorOutcome.NOTIFIED.value}),
        )

    def record_outcome(self, request_id: str, processor_id: str, outcome: ProcessorOutcome) -> None:
        """How a notified sub-processor answered (it must have been notified under this request)."""
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=dynamo.to_item({"request_id": request_id}),
            UpdateExpression="SET #outcomes.#processor = :outcome, updated_at = :at",
            ConditionExpression="attribute_exists(#outcomes.#processor)",
            ExpressionAttributeNames={"#outcomes": PROCESSOR_OUTCOMES, "#processor": processor_id},
            ExpressionAttributeValues=dynamo.to_values({":outcome": outcome.value, ":at": now_iso()}),
        )

    def close(self, request_id: str, status: RequestStatus, outcome: str) -> TransactWriteItemTypeDef:
        """The transaction item that records how a request of another kind than erasure ended.

        `completed` (with `outcome`, a declared word: `ready`, `approved`, `rejected`, `erased`...)
        takes it out of the `by_due` index and sets `completed_at`; `failed` keeps it open (it still
        needs an answer). Only an open request of another kind changes: the condition refuses an
        erasure, a missing request and one already completed.
        """
        sets = ["#status = :status", "outcome = :outcome", "updated_at = :at"]
        removes = ""
        if status is RequestStatus.COMPLETED:
            sets.append("completed_at = :at")
            removes = f" REMOVE {OPEN_KIND}"
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"request_id": request_id}),
                "UpdateExpression": "SET " + ", ".join(sets) + removes,
                "ConditionExpression": "attribute_exists(#open) AND kind <> :erasure",
                "ExpressionAttributeNames": {"#status": "status", "#open": OPEN_KIND},
                "ExpressionAttributeValues": dynamo.to_values(
                    {":status": status.value, ":outcome": outcome, ":at": now_iso(), ":erasure": KIND_ERASURE}
                ),
            }
        }

    def close_now(self, request_id: str, status: RequestStatus, outcome: str) -> bool:
        """`close` on its own; False when the condition refused it (no such open request of another kind)."""
        try:
            dynamo.transact([self.close(request_id, status, outcome)])
        except dynamo.TransactionConflict:
            return False
        return True

    def extend(self, request_id: str, *, previous_due_at: str, due_at: str, reason: str, by: str) -> bool:
        """Move an open request's due date once: from `previous_due_at` to `due_at`, for `reason` (a declared code).

        The condition is the whole rule, so two officers at once cannot both extend: the request is
        open, has not been extended, still has `previous_due_at` as its due date and is not yet due
        (now is not past it). `by` is the staff member's id. Returns False when the condition refused it
        (nothing was written); the caller reads the record to say why.
        """
        at = now_iso()
        extension = {"reason": reason, "extended_at": at, "previous_due_at": previous_due_at, "by": by}
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"request_id": request_id}),
                UpdateExpression="SET due_at = :due, #extension = :extension, updated_at = :at",
                ConditionExpression=(
                    "attribute_exists(#open) AND attribute_not_exists(#extension)"
                    " AND due_at = :previous AND :at <= due_at"
                ),
                ExpressionAttributeNames={"#open": OPEN_KIND, "#extension": EXTENSION},
                ExpressionAttributeValues=dynamo.to_values(
                    {":due": due_at, ":extension": extension, ":at": at, ":previous": previous_due_at}
                ),
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return False
            raise
        return True

    def _notices_map(self, request_id: str) -> None:
        """Give an existing request its `notices` map if it has none (a record may predate notices).

        Raises botocore's `ConditionalCheckFailedException` when there is no such request: none is created.
        """
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=dynamo.to_item({"request_id": request_id}),
            UpdateExpression="SET #notices = if_not_exists(#notices, :none)",
            ConditionExpression="attribute_exists(request_id)",
            ExpressionAttributeNames={"#notices": NOTICES},
            ExpressionAttributeValues=dynamo.to_values({":none": {}}),
        )

    def claim_notice(self, request_id: str, notice: str) -> bool:
        """Claim the sending of `notice` (a notice kind) for this request: at most once, ever.

        Records `notices.<notice> = {status: sending, at}` unless that notice was claimed before;
        returns whether this call claimed it. Raises `LookupError` when there is no such request: a
        notice is recorded on the register's record of the request it is about.
        """
        try:
            self._notices_map(request_id)
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                raise LookupError("No such request.") from None
            raise
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"request_id": request_id}),
                UpdateExpression="SET #notices.#notice = :claim",
                ConditionExpression="attribute_not_exists(#notices.#notice)",
                ExpressionAttributeNames={"#notices": NOTICES, "#notice": notice},
                ExpressionAttributeValues=dynamo.to_values({":claim": {"status": "sending", "at": now_iso()}}),
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return False
            raise
        return True

    def record_notice(self, request_id: str, notice: str, outcome: dict[str, Any]) -> None:
        """How the notice went: `notices.<notice>` becomes `outcome` (`{status, at, reason?, message_id?}`).

        `outcome` holds statuses, declared reasons, times and SES's message id only, never an address. A
        missing request is not created (botocore's `ConditionalCheckFailedException`).
        """
        self._notices_map(request_id)
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=dynamo.to_item({"request_id": request_id}),
            UpdateExpression="SET #notices.#notice = :outcome",
            ExpressionAttributeNames={"#notices": NOTICES, "#notice": notice},
            ExpressionAttributeValues=dynamo.to_values({":outcome": outcome}),
        )

    def keep_address(self, request_id: str, sealed: str) -> bool:
        """Keep the customer's sealed address on an erasure request, unless one is kept already; returns whether set."""
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"request_id": request_id}),
                UpdateExpression="SET #address = :sealed",
                ConditionExpression="attribute_exists(request_id) AND attribute_not_exists(#address)",
                ExpressionAttributeNames={"#address": NOTICE_ADDRESS},
                ExpressionAttributeValues=dynamo.to_values({":sealed": sealed}),
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return False
            raise
        return True

    def forget_address(self, request_id: str) -> None:
        """Remove the sealed address from the request (idempotent; a missing request is not created)."""
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"request_id": request_id}),
                UpdateExpression="REMOVE #address",
                ConditionExpression="attribute_exists(request_id)",
                ExpressionAttributeNames={"#address": NOTICE_ADDRESS},
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise

    def load_many(self, request_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The records of these ids that exist (consistent reads, `BatchGetItem` 100 keys at a time), in no order."""
        ids = list(dict.fromkeys(request_ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), 100):
            keys: list[Any] = [dynamo.to_item({"request_id": request_id}) for request_id in ids[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = clients.dynamodb().batch_get_item(RequestItems=request)
                found.extend(dynamo.from_item(item) for item in response.get("Responses", {}).get(self.table, []))
                request = dict(response.get("UnprocessedKeys") or {})
        return found

    def open_due_by(self, kind: RequestKind, horizon: str, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Open requests of `kind` due at or before `horizon` (the one format), soonest first: a Query of `by_due`.

        Items as the index projects them: `request_id`, `open_kind`, `due_at`, `subject_id`, `status`,
        `created_at`, `jurisdiction`, `extension`. `limit`: at most that many.
        """
        yield from self._by_due(kind, horizon, limit=limit)

    def count_due_by(self, kind: RequestKind, horizon: str) -> int:
        """How many open requests of `kind` are due at or before `horizon` (a counting Query of `by_due`)."""
        return sum(int(page["Count"]) for page in self._by_due(kind, horizon, count_only=True))

    def _by_due(
        self, kind: RequestKind, horizon: str, *, limit: int | None = None, count_only: bool = False
    ) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": datamap.REQUEST_DUE_INDEX,
            "KeyConditionExpression": "#open = :kind AND due_at <= :horizon",
            "ExpressionAttributeNames": {"#open": OPEN_KIND},
            "ExpressionAttributeValues": dynamo.to_values({":kind": kind.value, ":horizon": horizon}),
            "ScanIndexForward": True,
        }
        if count_only:
            kwargs["Select"] = "COUNT"
        yield from _pages(kwargs, count_only=count_only, limit=limit)

    def by_status(
        self,
        status: RequestStatus,
        *,
        limit: int | None = None,
        created_between: tuple[str, str] | None = None,
        erasures_only: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Records in `status`, oldest first, through the `by_status` index (no Scan).

        `limit`: at most that many. `created_between`: created in `[since, until]`. `erasures_only`:
        erasure requests only (`ERASURES_ONLY`; DynamoDB reads the others and drops them). The index
        projects ids, reason and times, and the certificate of a closed erasure.
        """
        yield from self._by_status(status, limit=limit, created_between=created_between, erasures_only=erasures_only)

    def count(self, status: RequestStatus, *, erasures_only: bool = False) -> int:
        """How many records are in `status` (a counting Query of the index), or only erasures among them."""
        return sum(int(page["Count"]) for page in self._by_status(status, count_only=True, erasures_only=erasures_only))

    def _by_status(
        self,
        status: RequestStatus,
        *,
        limit: int | None = None,
        count_only: bool = False,
        created_between: tuple[str, str] | None = None,
        erasures_only: bool = False,
    ) -> Iterator[dict[str, Any]]:
        condition = "#status = :status"
        values: dict[str, Any] = {":status": status.value}
        if created_between is not None:
            condition += " AND created_at BETWEEN :since AND :until"
            values.update({":since": created_between[0], ":until": created_between[1]})
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": datamap.REQUEST_STATUS_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": dynamo.to_values(values),
            "ScanIndexForward": True,
        }
        if erasures_only:
            kwargs["FilterExpression"] = ERASURES_ONLY
        if count_only:
            kwargs["Select"] = "COUNT"
        if limit is not None and not erasures_only:
            kwargs["Limit"] = limit  # a filter applies after the limit: then pages are read until enough match
        yield from _pages(kwargs, count_only=count_only, limit=limit)


def status_view(item: dict[str, Any], milestones: tuple[str, ...]) -> dict[str, Any]:
    """A request as anyone holding its id may see it: ids, statuses, counts, dates, the certificate digest.

    A certified erasure that shredded the customer's keys also says after when no copy (backups
    included) can be read any more (`unrecoverable_after`, the certificate's), which the privacy center
    shows the customer with the certificate.

    `milestones` are the workflow's (`custody.erasure.workflow.MILESTONES`): how many there are,
    and how many an erasure reached (0 of 0 for other kinds); its deadline as `deadline_view` gives it.
    A `held` request says until when (`on_hold_until`, the hold's last day) and why (`hold_reason`, a declared
    code: never an officer's words); a completed full erasure that kept records under a legal obligation lists
    them (`retained`: category, obligation, legal basis and the last day they are kept, `until`).
    """
    steps = item.get("steps", {})
    erasure = item.get("kind", KIND_ERASURE) == KIND_ERASURE
    hold = item.get("hold") if item.get("status") == RequestStatus.HELD.value else None
    retained = [
        {key: entry[key] for key in ("category", "obligation", "legal_basis", "until") if key in entry}
        for entry in (item.get("retained") or ())
    ]
    return {
        "request_id": item["request_id"],
        "kind": item.get("kind", KIND_ERASURE),
        "reason": item.get("reason"),
        "status": item["status"],
        "created_at": item["created_at"],
        "updated_at": item.get("updated_at", item["created_at"]),
        "steps_done": len([name for name in steps if name in milestones]) if erasure else 0,
        "steps_total": len(milestones) if erasure else 0,
        "certificate_digest": item.get("certificate_digest"),
        "unrecoverable_after": (item.get("certificate") or {}).get("unrecoverable_after"),
        "on_hold_until": hold.get("until") if hold else None,
        "hold_reason": hold.get("reason_code") if hold else None,
        "retained": retained,
        **deadline_view(item),
    }


def deadline_view(item: dict[str, Any]) -> dict[str, Any]:
    """When the request was received and is due, whether it was extended, how it ended, and its notices.

    `{received_at, jurisdiction, due_at, due_date, extended, extension: {reason, extended_at,
    previous_due_at} | None, completed_at, outcome, notices: {notice kind: status}}`; `due_at` and
    `jurisdiction` are None for a request no data subject asked for (a retention erasure). Ids, codes
    and times only: who extended it is kept on the record, not shown.
    """
    extension = item.get(EXTENSION)
    due_at = item.get("due_at")
    return {
        "received_at": item["created_at"],
        "jurisdiction": item.get("jurisdiction"),
        "due_at": due_at,
        "due_date": str(due_at)[:10] if due_at else None,
        "extended": extension is not None,
        "extension": {name: extension.get(name) for name in ("reason", "extended_at", "previous_due_at")}
        if extension
        else None,
        "completed_at": item.get("completed_at"),
        "outcome": item.get("outcome"),
        "notices": {str(name): str(notice.get("status")) for name, notice in (item.get(NOTICES) or {}).items()},
    }


def _pages(kwargs: dict[str, Any], *, count_only: bool, limit: int | None) -> Iterator[dict[str, Any]]:
    """A Query of `kwargs`, page by page: `{"Count": n}` per page when `count_only`, else at most `limit` items."""
    yielded = 0
    while True:
        response = clients.dynamodb().query(**kwargs)
        if count_only:
            yield {"Count": response.get("Count", 0)}
        for item in response.get("Items", []):
            yield dynamo.from_item(item)
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
