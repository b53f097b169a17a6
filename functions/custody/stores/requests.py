"""The `requests` table: one record per data-subject request, followed by an unguessable id.

A record holds ids, statuses, counts and timestamps — never personal data — so it outlives the
customer's account and `GET /v1/requests/{request_id}` keeps answering after erasure. This
module is the only code that reads or writes the table; the erasure workflow's steps record
their progress through `RequestsTable.mark`.

Record shape: `{request_id, kind: "erasure", subject_id, reason, scope: [category], status,
created_at, updated_at, steps: {milestone: when}, erased: {"<execution>#<round>": {store: n}},
processors: [processor id], sub_processors: {processor id: outcome}, token_seals: {processor id:
seal}, key_shredded_at?, certificate?, certificate_digest?, failure?, hold?: {reason_code, until},
hold_released_at?, retained?: [retained records], obligations_ended?: [ended obligations]}`.

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

from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "requests"
KIND_ERASURE: Final = "erasure"
PROCESSOR_OUTCOMES: Final = "sub_processors"
TOKEN_SEALS: Final = "token_seals"  # noqa: S105 - an attribute name, not a secret


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
    ) -> ErasureRequest:
        """A request not yet recorded, with a fresh id and status `received` (`held` under a legal `hold`).

        The id is a UUID4 (122 random bits: unguessable, and a valid Step Functions execution name).
        A full erasure's scope is every category of the data map, whatever `scope` says (Freeze takes out
        what a legal obligation keeps). `hold`: the subject's legal hold (`reason_code`, `until`).
        """
        categories = tuple(item.name for item in datamap.CATEGORIES) if reason in FULL_ERASURE_REASONS else scope
        request_id = str(uuid.uuid4())
        status = RequestStatus.HELD if hold else RequestStatus.RECEIVED
        return cls(
            request_id,
            subject_id,
            reason,
            tuple(categories),
            status,
            now_iso(),
            tuple(processors),
            dict(hold) if hold else None,
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
        )

    def to_item(self) -> dict[str, Any]:
        """The record of a new request: its fields, `kind`, empty `steps` and `erased`, `updated_at` = `created_at`."""
        return {
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


class RequestsTable:
    """The repository of the `requests` table."""

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def load(self, request_id: str) -> dict[str, Any] | None:
        """The whole record (consistent read), or None."""
        return dynamo.get(self.table, {"request_id": request_id})

    def erasure(self, request_id: str) -> ErasureRequest | None:
        """The erasure request of `request_id` (consistent read), or None."""
        item = self.load(request_id)
        return ErasureRequest.of(item) if item else None

    def put_new(self, request: ErasureRequest, extra: dict[str, Any] | None = None) -> TransactWriteItemTypeDef:
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
        any character but a dot). Every call moves `updated_at`.
        """
        names = {f"#step{index}": milestone for index, milestone in enumerate(milestones)}
        sets = [f"steps.{name} = :at" for name in names] + ["updated_at = :at"]
        attribute_values: dict[str, Any] = {":at": now_iso()}
        if status is not None:
            sets.append("#status = :status")
            names["#status"] = "status"
            attribute_values[":status"] = status.value
        for index, (path, value) in enumerate(values.items()):
            segments = path.split(".", 1)
            placeholders = [f"#v{index}_{depth}" for depth in range(len(segments))]
            names.update(zip(placeholders, segments, strict=True))
            sets.append(f"{'.'.join(placeholders)} = :v{index}")
            attribute_values[f":v{index}"] = value
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=dynamo.to_item({"request_id": request_id}),
            UpdateExpression="SET " + ", ".join(sets),
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

    def by_status(
        self,
        status: RequestStatus,
        *,
        limit: int | None = None,
        created_between: tuple[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Records in `status`, oldest first, through the `by_status` index (no Scan).

        `limit`: at most that many (one page). `created_between`: created in `[since, until]`.
        The index projects ids, reason and times, and the certificate of a closed request.
        """
        yield from self._by_status(status, limit=limit, created_between=created_between)

    def count(self, status: RequestStatus) -> int:
        """How many records are in `status` (a counting Query of the index)."""
        return sum(int(page["Count"]) for page in self._by_status(status, count_only=True))

    def _by_status(
        self,
        status: RequestStatus,
        *,
        limit: int | None = None,
        count_only: bool = False,
        created_between: tuple[str, str] | None = None,
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
        if count_only:
            kwargs["Select"] = "COUNT"
        if limit is not None:
            kwargs["Limit"] = limit
        while True:
            response = clients.dynamodb().query(**kwargs)
            if count_only:
                yield {"Count": response.get("Count", 0)}
            for item in response.get("Items", []):
                yield dynamo.from_item(item)
            if "LastEvaluatedKey" not in response or limit is not None:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def status_view(item: dict[str, Any], milestones: tuple[str, ...]) -> dict[str, Any]:
    """A request as anyone holding its id may see it: ids, statuses, counts, the certificate digest.

    `milestones` are the workflow's (`custody.erasure.workflow.MILESTONES`): how many there are,
    and how many the request reached. A `held` request says until when (`on_hold_until`, the hold's last
    day) and why (`hold_reason`, a declared code: never an officer's words); a completed full erasure that
    kept records under a legal obligation lists them (`retained`: category, obligation, legal basis and the
    last day they are kept, `until`).
    """
    steps = item.get("steps", {})
    hold = item.get("hold") if item.get("status") == RequestStatus.HELD.value else None
    retained = [
        {key: entry[key] for key in ("category", "obligation", "legal_basis", "until") if key in entry}
        for entry in (item.get("retained") or ())
    ]
    return {
        "request_id": item["request_id"],
        "kind": item.get("kind", KIND_ERASURE),
        "reason": item["reason"],
        "status": item["status"],
        "created_at": item["created_at"],
        "updated_at": item.get("updated_at", item["created_at"]),
        "steps_done": len([name for name in steps if name in milestones]),
        "steps_total": len(milestones),
        "certificate_digest": item.get("certificate_digest"),
        "on_hold_until": hold.get("until") if hold else None,
        "hold_reason": hold.get("reason_code") if hold else None,
        "retained": retained,
    }
