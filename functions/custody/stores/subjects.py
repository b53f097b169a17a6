"""The lifecycle record of each customer: status, versions and granted purposes.

One item per opaque `subject_id` in the `subjects` table. It holds no value a customer
submitted: the purposes they granted, counters and timestamps. Every write that changes a
customer's data checks it in the same transaction, so a write can never race a consent
withdrawal or an erasure.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from custody.declared import clock, datamap
from custody.declared.clock import now_iso
from custody.declared.errors import Conflict, CustodyError, Forbidden, ProcessingRestricted
from custody.declared.retention import months_through
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE = "subjects"
# The subject's uploads between their intent and their commit (`<deadline>#<document id>`, a string set).
UPLOADS_IN_FLIGHT = "uploads_in_flight"
# The customer's export jobs: export id -> `{status, created_at, ...}` (ids, statuses, sizes, digests).
EXPORTS = "exports"
EXPORTS_VERSION = "exports_version"
# How many of the customer's change requests await a privacy officer (kept with every open and decision).
PENDING_CHANGES = "pending_change_requests"
# The customer's restriction of processing (GDPR art. 18), while it lasts: `{ground, since}` (a declared
# ground code, `custody.declared.restriction.Ground`, and a time). Absent when processing is not restricted.
RESTRICTION = "restriction"
# What a write that art. 18 stops requires of the subject in its own condition: no restriction now.
_UNRESTRICTED = f"attribute_not_exists({RESTRICTION})"
# What an erased subject's record keeps: its id, status, when and by which request it changed.
TOMBSTONE_ATTRIBUTES = ("subject_id", "status", "status_request", "status_at")
# A legal hold on the subject (`custody.declared.holds`): `{reason_code, until, ends_at, ticket, placed_by,
# placed_at}` — a declared code, a ticket reference, dates and a staff id — and the counter of its changes.
LEGAL_HOLD = "legal_hold"
HOLD_VERSION = "hold_version"
# What a `retained` subject's record adds to its tombstone: obligation -> the last day it keeps records
# (`retained`), when the last one ends and the retention index's shard (datamap.RETENTION_END_INDEX).
RETAINED = "retained"
RETAINED_ATTRIBUTES = (RETAINED, datamap.RETENTION_ENDS_AT, datamap.RETENTION_SHARD)
# What a retained subject's record may hold, besides: a legal hold placed on it while retained.
HOLD_ATTRIBUTES = (LEGAL_HOLD, HOLD_VERSION)
# The fence every write carries: the subject is active and no full erasure is pending (`_NOT_ERASING`),
# and its consent version is the one the write read.
_NOT_ERASING = "#status = :active AND attribute_not_exists(pending_erasure)"
_FENCE = _NOT_ERASING + " AND (attribute_not_exists(consent_version) OR consent_version = :consent_version)"
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 0.01
_T = TypeVar("_T")
_SUBJECT_ID = re.compile(r"[A-Za-z0-9-]{1,128}")


class SubjectStatus(StrEnum):
    """Where a subject stands: `active`, `erasing` (a full erasure is under way) or `erased` (certified).

    `retained`: a full erasure is certified, but records a legal obligation keeps (and their key) remain
    until its period ends; then the retention sweep erases them and the subject is `erased`.
    """

    ACTIVE = "active"
    ERASING = "erasing"
    RETAINED = "retained"
    ERASED = "erased"


@dataclass(frozen=True)
class Subject:
    """A subject's lifecycle record as loaded; `Subject(id)` for one never seen.

    `profile_version` and `consent_version` count writes (optimistic locking); `granted` maps each
    granted purpose to the policy version it was granted under; times are in the one timestamp format.
    """

    subject_id: str
    status: SubjectStatus = SubjectStatus.ACTIVE
    profile_version: int = 0
    consent_version: int = 0
    granted: dict[str, str] = field(default_factory=dict)  # purpose → policy version
    pending_erasure: str | None = None  # the full erasure under way, if any
    open_requests: frozenset[str] = frozenset()  # erasure requests not yet completed
    disclosed_to: frozenset[str] = frozenset()  # sub-processors that ever received the customer's data
    created_at: str | None = None
    last_active_at: str | None = None
    uploads_in_flight: frozenset[str] = frozenset()  # `<deadline>#<document id>` of uploads not yet committed
    status_request: str | None = None  # the erasure request that last moved the status
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)  # export id -> job (custody.customers.exports)
    exports_version: int = 0  # counts changes to the set of export jobs (optimistic locking)
    pending_changes: int = 0  # change requests awaiting review (`PENDING_CHANGES`)
    restriction: dict[str, str] | None = None  # `{ground, since}` while processing is restricted (`RESTRICTION`)
    legal_hold: dict[str, str] | None = None  # `LEGAL_HOLD`, when one was placed (it may have ended since)
    hold_version: int = 0  # counts placements and lifts of legal holds (optimistic locking)
    retained: dict[str, str] = field(default_factory=dict)  # obligation -> last day kept (a retained subject)
    retention_ends_at: str | None = None  # when the last obligation of a retained subject ends

    def hold_active(self, now: str | None = None) -> bool:
        """Whether a legal hold lies on the subject at `now` (the one format; the clock's when None).

        A hold lasts to the end of its `until` day (`ends_at`); one whose end has passed holds nothing.
        """
        if not self.legal_hold:
            return False
        return str(self.legal_hold.get("ends_at", "")) > (now or now_iso())

    def hold_facts(self) -> dict[str, str]:
        """What a held request and its customer are told of the hold: its `reason_code` and `until` (last day)."""
        hold = self.legal_hold or {}
        return {"reason_code": str(hold.get("reason_code", "")), "until": str(hold.get("until", ""))}

    @property
    def erasure_request(self) -> str | None:
        """The full erasure under way or done: the pending one, else the one that moved the status."""
        return self.pending_erasure or (self.status_request if self.status is not SubjectStatus.ACTIVE else None)

    @property
    def exists(self) -> bool:
        """Whether the record was ever written (it has a `created_at`)."""
        return self.created_at is not None

    @property
    def purposes(self) -> frozenset[str]:
        """The purposes currently granted."""
        return frozenset(self.granted)

    @property
    def restricted(self) -> bool:
        """Whether the customer has restricted the processing of their data (GDPR art. 18) now."""
        return self.restriction is not None

    def ensure_unrestricted(self, purposes: list[str] | None = None) -> None:
        """Raise `ProcessingRestricted` (403, never the ground) while the customer's processing is restricted.

        `purposes`, when given, are the non-essential purposes the customer's own request was refused for.
        The check on a loaded record spares a doomed write its work; the write carries the same rule in its
        own condition (`SubjectRegistry.touch` and `fence` with `unrestricted=True`).
        """
        if self.restricted:
            raise ProcessingRestricted(purposes=purposes)

    @property
    def is_tombstone(self) -> bool:
        """Whether the record is an erased subject's tombstone (ShredKey ran): nothing but its status."""
        return not self.exists and self.status is not SubjectStatus.ACTIVE

    @property
    def erasure_started(self) -> bool:
        """Whether a full erasure is under way or done: the status moved on, or a withdrawal is pending.

        From the withdrawal on (before the workflow's Freeze even runs) nothing may be written.
        """
        return self.status is not SubjectStatus.ACTIVE or self.pending_erasure is not None

    def ensure_active(self) -> None:
        """Raise `Forbidden` (details `{"status": ...}`) once the subject's full erasure has started.

        Nothing may be added to, changed on or read from an account being erased. The check on a loaded
        record only spares a doomed write its work: the write itself carries the same rule in its own
        condition (`SubjectRegistry.touch`, `SubjectRegistry.fence`).
        """
        if self.erasure_started:
            raise erasure_refusal(self.status)


def erasure_refusal(status: SubjectStatus = SubjectStatus.ERASING) -> Forbidden:
    """The refusal of anything asked of an account whose erasure has started (403, the status only)."""
    return Forbidden(
        "This account is being erased; no data can be added, changed or read.",
        {"status": SubjectStatus.ERASING.value if status is SubjectStatus.ACTIVE else status.value},
    )


def _fence_values(subject: Subject) -> dict[str, Any]:
    """The values `_FENCE` compares: active, and the consent version `subject` was loaded with."""
    return {":active": SubjectStatus.ACTIVE.value, ":consent_version": subject.consent_version}


_PENDING_SET = f"{PENDING_CHANGES} = if_not_exists({PENDING_CHANGES}, :no_pending) + :pending_step"


def pending_change_values(step: int) -> dict[str, int]:
    """The values `_PENDING_SET` needs to move the count of change requests awaiting review by `step`."""
    return {":no_pending": 0, ":pending_step": step}


def is_subject_id(subject_id: str) -> bool:
    """Whether a subject with this id could exist (the shape of ids the key may hold)."""
    return bool(_SUBJECT_ID.fullmatch(subject_id))


def activity_month(moment: datetime) -> str:
    """The month (`YYYY-MM`, UTC) of the inactivity index bucket of an activity at `moment`."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def activity_shard(subject_id: str) -> int:
    """A stable shard of the subject id (not Python's salted hash): the same on every run."""
    return int.from_bytes(hashlib.sha256(subject_id.encode()).digest()[:2], "big") % datamap.ACTIVITY_SHARDS


def activity_bucket(subject_id: str, moment: datetime) -> str:
    """The inactivity index's partition for a subject active at `moment`: `YYYY-MM#<shard>`."""
    return f"{activity_month(moment)}#{activity_shard(subject_id)}"


def due_buckets(cutoff: datetime, epoch_month: str) -> list[str]:
    """Every inactivity index partition that can hold a subject last active at or before `cutoff`.

    Months from `epoch_month` (`YYYY-MM`, the first month the index was written) to the cutoff's
    month, both included, each in every shard; empty when the cutoff is before the epoch.
    """
    months = months_through(epoch_month, activity_month(cutoff))
    return [f"{month}#{shard}" for month in months for shard in range(datamap.ACTIVITY_SHARDS)]


class SubjectRegistry:
    """The `subjects` table of `settings`: one lifecycle record per `subject_id`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def load(self, subject_id: str) -> Subject:
        """The subject's record (consistent read).

        A subject never seen, or an id no subject can have, is `Subject(id)`, which does not `exist`.
        """
        return self.loaded(subject_id, self.record(subject_id))

    def record(self, subject_id: str) -> dict[str, Any]:
        """The subject's record as stored, every attribute (consistent read; empty when there is none)."""
        item = dynamo.get(self.table, {"subject_id": subject_id}) if is_subject_id(subject_id) else None
        return item or {}

    @staticmethod
    def loaded(subject_id: str, item: dict[str, Any]) -> Subject:
        """The `Subject` a stored record (`record`) describes; `Subject(id)` for an empty one."""
        if not item:
            return Subject(subject_id)
        return Subject(
            subject_id=subject_id,
            status=SubjectStatus(item.get("status", SubjectStatus.ACTIVE)),
            profile_version=int(item.get("profile_version", 0)),
            consent_version=int(item.get("consent_version", 0)),
            granted=dict(item.get("granted", {})),
            pending_erasure=item.get("pending_erasure"),
            open_requests=frozenset(item.get("open_requests", ())),
            disclosed_to=frozenset(item.get("disclosed_to", ())),
            created_at=item.get("created_at"),
            last_active_at=item.get("last_active_at"),
            uploads_in_flight=frozenset(item.get(UPLOADS_IN_FLIGHT, ())),
            status_request=item.get("status_request"),
            exports={str(key): dict(value) for key, value in item.get(EXPORTS, {}).items()},
            exports_version=int(item.get(EXPORTS_VERSION, 0)),
            pending_changes=int(item.get(PENDING_CHANGES, 0)),
            restriction={str(key): str(value) for key, value in item[RESTRICTION].items()}
            if item.get(RESTRICTION)
            else None,
            legal_hold={str(key): str(value) for key, value in item[LEGAL_HOLD].items()}
            if item.get(LEGAL_HOLD)
            else None,
            hold_version=int(item.get(HOLD_VERSION, 0)),
            retained={str(key): str(value) for key, value in item.get(RETAINED, {}).items()},
            retention_ends_at=item.get(datamap.RETENTION_ENDS_AT),
        )

    def touch(
        self,
        subject: Subject,
        *,
        set_expressions: list[str] | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        add_open_request: str | None = None,
        add_disclosed_to: str | None = None,
        add_upload: str | None = None,
        bump_profile: bool = False,
        bump_consent: bool = False,
        inactive_since: str | None = None,
        also_require: list[str] | None = None,
        pending_change: int = 0,
        unrestricted: bool = False,
        remove: list[str] | None = None,
    ) -> TransactWriteItemTypeDef:
        """The transaction item that records activity on an active subject, with optimistic locking.

        It fails the whole transaction when the subject is no longer active, when a full erasure
        is pending, or when its profile or consent version moved since `subject` was loaded. Activity moves
        `last_active_at` and the subject's inactivity-index bucket in the same write.

        `inactive_since` is the retention sweep's write: it is not activity, so it requires
        `last_active_at` to still be that value (the customer did not come back meanwhile) and
        takes the subject out of the inactivity index instead of moving it. `also_require` conditions are
        added to the write's condition (their names and values in `names` and `values`). `pending_change`
        (+1 or -1) moves the count of change requests awaiting review (`PENDING_CHANGES`). `unrestricted`
        requires that the customer has not restricted processing (GDPR art. 18): a write the restriction stops
        can then not land after it. `remove` names attributes the write removes.
        """
        at = now_iso()
        all_values: dict[str, Any] = {":now": at, ":active": SubjectStatus.ACTIVE.value}
        all_names = {"#status": "status", "#bucket": datamap.ACTIVITY_BUCKET}
        conditions = ["(attribute_not_exists(#status) OR #status = :active)", "attribute_not_exists(pending_erasure)"]
        sets = ["created_at = if_not_exists(created_at, :now)", "#status = :active"]
        if inactive_since is None:
            sets += ["last_active_at = :now", "#bucket = :bucket"]
            all_values[":bucket"] = activity_bucket(subject.subject_id, clock.parse(at))
        else:
            conditions.append("last_active_at = :inactive_since")
            all_values[":inactive_since"] = inactive_since
        sets += set_expressions or []
        # Consents are always guarded: a write must not race a withdrawal. The profile version
        # is guarded by the writes that change the profile.
        guarded = [("consent_version", subject.consent_version, bump_consent)]
        if bump_profile:
            guarded.append(("profile_version", subject.profile_version, True))
        for attribute, current, bump in guarded:
            marker = f":{attribute}"
            all_values[marker] = current
            conditions.append(f"(attribute_not_exists({attribute}) OR {attribute} = {marker})")
            if bump:
                sets.append(f"{attribute} = {marker} + :one")
                all_values[":one"] = 1
        conditions += also_require or []
        if unrestricted:
            conditions.append(_UNRESTRICTED)
        if pending_change:
            sets.append(_PENDING_SET)
            all_values.update(pending_change_values(pending_change))
        all_names.update(names or {})
        all_values.update(values or {})
        expression = "SET " + ", ".join(sets)
        additions = []
        if add_open_request:
            additions.append("open_requests :open_request")
            all_values[":open_request"] = {add_open_request}
        if add_disclosed_to:
            # Kept on the subject, not only in the disclosures store: erasure deletes that store
            # before it notifies the sub-processors, and the ids of companies are not personal data.
            additions.append("disclosed_to :disclosed_to")
            all_values[":disclosed_to"] = {add_disclosed_to}
        if add_upload:
            additions.append("#uploads :upload")
            all_names["#uploads"] = UPLOADS_IN_FLIGHT
            all_values[":upload"] = {add_upload}
        if additions:
            expression += " ADD " + ", ".join(additions)
        removals = [*(["#bucket"] if inactive_since is not None else []), *(remove or [])]
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                "UpdateExpression": expression,
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": all_names,
                "ExpressionAttributeValues": dynamo.to_values(all_values),
            }
        }

    def fence_and_decide(self, subject: Subject) -> TransactWriteItemTypeDef:
        """The fence (`fence`) as an update that also counts one change request less awaiting review.

        For a decision that writes nothing else to the subject (a rejection): a `ConditionCheck` and an
        update of one item cannot share a transaction.
        """
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                "UpdateExpression": "SET " + _PENDING_SET,
                "ConditionExpression": _FENCE,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": dynamo.to_values({**_fence_values(subject), **pending_change_values(-1)}),
            }
        }

    def fence(
        self, subject: Subject, *, unrestricted: bool = False, retained: bool = False
    ) -> TransactWriteItemTypeDef:
        """The transaction item that lets a write through only while the subject stays as loaded.

        A `ConditionCheck` (no write to the subject, not activity): the subject exists, is `active`,
        has no full erasure pending, and its consent version is the one `subject` was loaded with — so
        a write joined to it can race neither a withdrawal nor an erasure. For writes by others (staff,
        sub-processor disclosures) that are not the customer's own activity. `unrestricted` also requires
        that the customer has not restricted processing (GDPR art. 18), so a grant or a read logged under one
        cannot land after a restriction it raced.
        sub-processor disclosures) that are not the customer's own activity.

        `retained`: the subject must instead be `retained` with no erasure pending (a privacy officer's
        grant and reads of records kept under a legal obligation, after the customer's full erasure).
        """
        if retained:
            return {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                    "ConditionExpression": "#status = :retained AND attribute_not_exists(pending_erasure)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": dynamo.to_values({":retained": SubjectStatus.RETAINED.value}),
                }
            }
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                "ConditionExpression": _FENCE + (f" AND {_UNRESTRICTED}" if unrestricted else ""),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": dynamo.to_values(_fence_values(subject)),
            }
        }

    def restrict(self, subject: Subject, ground: str, at: str) -> TransactWriteItemTypeDef:
        """The customer restricts processing (GDPR art. 18): `restriction` becomes `{ground, since: at}`.

        Written through `touch` (the customer's own activity; refused once an erasure started or when the
        consent version moved), and only if no restriction is in place, so two requests cannot both
        restrict. Every write the restriction stops carries the opposite condition (`unrestricted`), so
        none that read the subject before can land after.
        """
        return self.touch(
            subject,
            set_expressions=[f"{RESTRICTION} = :restriction"],
            values={":restriction": {"ground": ground, "since": at}},
            also_require=[_UNRESTRICTED],
        )

    def lift_restriction(self, subject: Subject) -> TransactWriteItemTypeDef:
        """The customer lifts their restriction: `restriction` is removed, if it is there (through `touch`)."""
        return self.touch(subject, remove=[RESTRICTION], also_require=[f"attribute_exists({RESTRICTION})"])

    # --- legal holds and retention ---------------------------------------------------------

    @staticmethod
    def hold_unchanged(subject: Subject) -> tuple[str, dict[str, Any]]:
        """A condition (and its values) that the subject's legal hold is still as `subject` was loaded with.

        Joined to a write that decided something from the hold (an erasure recorded `held` or not), so a
        hold placed or lifted meanwhile fails the write instead of being missed.
        """
        condition = f"(attribute_not_exists({HOLD_VERSION}) OR {HOLD_VERSION} = :loaded_hold_version)"
        return condition, {":loaded_hold_version": subject.hold_version}

    def place_hold(self, subject: Subject, hold: dict[str, str]) -> TransactWriteItemTypeDef:
        """The transaction item that places (or replaces) a legal hold on an `active` or `retained` subject.

        `hold` is the `LEGAL_HOLD` value. Refused (the transaction fails) when the subject's status, consent
        version, pending erasure or hold moved since `subject` was loaded: a new request, an erasure begun
        or another hold change would then go unseen.
        """
        hold_condition, values = self.hold_unchanged(subject)
        conditions = [
            "#status = :status",
            "(attribute_not_exists(consent_version) OR consent_version = :consent_version)",
            hold_condition,
        ]
        if subject.pending_erasure is None:
            conditions.append("attribute_not_exists(pending_erasure)")
        else:
            conditions.append("pending_erasure = :pending")
            values[":pending"] = subject.pending_erasure
        values.update(
            {
                ":status": subject.status.value,
                ":consent_version": subject.consent_version,
                ":hold": dict(hold),
                ":next": subject.hold_version + 1,
            }
        )
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                "UpdateExpression": f"SET {LEGAL_HOLD} = :hold, {HOLD_VERSION} = :next",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": dynamo.to_values(values),
            }
        }

    def lift_hold(self, subject: Subject) -> TransactWriteItemTypeDef:
        """The transaction item that takes the subject's legal hold off (lifted or ended), if unchanged since loaded."""
        condition, values = self.hold_unchanged(subject)
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                "UpdateExpression": f"SET {HOLD_VERSION} = :next REMOVE {LEGAL_HOLD}",
                "ConditionExpression": f"attribute_exists(subject_id) AND {condition}",
                "ExpressionAttributeValues": dynamo.to_values({**values, ":next": subject.hold_version + 1}),
            }
        }

    def begin_retention_end(self, subject: Subject, request_id: str) -> TransactWriteItemTypeDef:
        """The transaction item that opens the erasure of a `retained` subject's kept records (`request_id`).

        Sets `pending_erasure` (so a privacy officer's writes are fenced from here on), opens the request on
        the record and takes the subject out of the retention index. Refused when the subject is no longer
        retained as loaded (its end moved, a hold came or went, another erasure is pending).
        """
        hold_condition, values = self.hold_unchanged(subject)
        values.update(
            {
                ":retained": SubjectStatus.RETAINED.value,
                ":ends_at": subject.retention_ends_at or "",
                ":request_id": request_id,
                ":open_request": {request_id},
            }
        )
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                "UpdateExpression": "SET pending_erasure = :request_id ADD open_requests :open_request REMOVE #shard",
                "ConditionExpression": "#status = :retained AND attribute_not_exists(pending_erasure) AND "
                f"#ends_at = :ends_at AND {hold_condition}",
                "ExpressionAttributeNames": {
                    "#status": "status",
                    "#shard": datamap.RETENTION_SHARD,
                    "#ends_at": datamap.RETENTION_ENDS_AT,
                },
                "ExpressionAttributeValues": dynamo.to_values(values),
            }
        }

    def mark_retained(self, subject_id: str, request_id: str, retained: dict[str, str], ends_at: str) -> None:
        """A full erasure kept records under legal obligations: the subject becomes `retained` until `ends_at`.

        `retained` maps each obligation to the last day it keeps records; `ends_at` is when the last one
        ends (the one format), the retention index's sort key. Only an `erasing` subject moves (a re-run of
        a certified request changes nothing). Drops the uploads in flight that the tombstone kept for Verify.
        """
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"subject_id": subject_id}),
                UpdateExpression=f"SET #status = :retained, status_request = :request_id, status_at = :at, "
                f"{RETAINED} = :kept, #ends_at = :ends_at, #shard = :shard REMOVE {UPLOADS_IN_FLIGHT}",
                ConditionExpression="#status = :erasing",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#ends_at": datamap.RETENTION_ENDS_AT,
                    "#shard": datamap.RETENTION_SHARD,
                },
                ExpressionAttributeValues=dynamo.to_values(
                    {
                        ":retained": SubjectStatus.RETAINED.value,
                        ":erasing": SubjectStatus.ERASING.value,
                        ":request_id": request_id,
                        ":at": now_iso(),
                        ":kept": dict(retained),
                        ":ends_at": ends_at,
                        ":shard": str(activity_shard(subject_id)),
                    }
                ),
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise

    def retention_ending(self, shard: str, now: str) -> Iterator[dict[str, Any]]:
        """Retained subjects of one retention-index shard whose obligations ended at or before `now`.

        Items `{subject_id, retention_ends_at, ...}` as the index projects them, earliest first; a Query
        of the sparse index, page by page, never a Scan.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": datamap.RETENTION_END_INDEX,
            "KeyConditionExpression": "#shard = :shard AND #ends_at <= :now",
            "ExpressionAttributeNames": {"#shard": datamap.RETENTION_SHARD, "#ends_at": datamap.RETENTION_ENDS_AT},
            "ExpressionAttributeValues": dynamo.to_values({":shard": shard, ":now": now}),
        }
        while True:
            response = clients.dynamodb().query(**kwargs)
            for item in response.get("Items", []):
                yield dynamo.from_item(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def leave_retention_index(self, subject_id: str, shard: str) -> bool:
        """Take a subject that is no longer `retained`, or whose erasure is pending, out of the retention index.

        Conditional on it still being in `shard` and not retained without a pending erasure, so it never
        hides a subject whose records the sweep should erase. True when it removed it.
        """
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"subject_id": subject_id}),
                UpdateExpression="REMOVE #shard",
                ConditionExpression="#shard = :shard AND (#status <> :retained OR attribute_exists(pending_erasure))",
                ExpressionAttributeNames={"#shard": datamap.RETENTION_SHARD, "#status": "status"},
                ExpressionAttributeValues=dynamo.to_values(
                    {":shard": shard, ":retained": SubjectStatus.RETAINED.value}
                ),
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return False
            raise
        return True

    def begin_upload(self, subject: Subject, entry: str) -> TransactWriteItemTypeDef:
        """The upload's intent: `entry` (`<deadline>#<document id>`) joins the subject's uploads in flight.

        Written through `touch`, so it is refused once an erasure started or the consent version moved.
        The erasure's Verify does not pass while an entry's deadline is ahead (`uploads_in_flight`).
        """
        return self.touch(subject, add_upload=entry)

    def end_upload(self, subject: Subject, entry: str) -> TransactWriteItemTypeDef:
        """The upload's commit: `entry` leaves the uploads in flight, under the same fence as its intent.

        Refused (the transaction fails) when the subject is no longer active, a full erasure is pending,
        or the consent version moved since `subject` was loaded: the entry then stays, for the erasure's
        Verify to wait on its deadline.
        """
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                "UpdateExpression": "DELETE #uploads :entry",
                "ConditionExpression": _FENCE,
                "ExpressionAttributeNames": {"#status": "status", "#uploads": UPLOADS_IN_FLIGHT},
                "ExpressionAttributeValues": dynamo.to_values({**_fence_values(subject), ":entry": {entry}}),
            }
        }

    def start_export(
        self, subject: Subject, jobs: dict[str, dict[str, Any]], export_id: str | None = None
    ) -> TransactWriteItemTypeDef:
        """The customer's request of an export: their export jobs become `jobs` (a new one added, old ones pruned).

        Written through `touch` (activity; refused once an erasure started), and only if no other
        request changed the jobs since `subject` was loaded (`exports_version`), so two concurrent
        requests cannot both pass the daily limit. `export_id` joins the subject's open requests (the
        access request it is, in the register).
        """
        return self.touch(
            subject,
            add_open_request=export_id,
            set_expressions=[f"{EXPORTS} = :exports", f"{EXPORTS_VERSION} = :exports_version + :export_step"],
            values={":exports": jobs, ":exports_version": subject.exports_version, ":export_step": 1},
            also_require=[f"(attribute_not_exists({EXPORTS_VERSION}) OR {EXPORTS_VERSION} = :exports_version)"],
        )

    def begin_export(
        self, subject: Subject, export_id: str, entry: str, values: dict[str, Any]
    ) -> TransactWriteItemTypeDef:
        """The exporter's intent: the job `export_id`, still `queued`, becomes `running` with `values` set.

        Its upload joins the uploads in flight (`entry`, `<deadline>#<export id>`) in the same write,
        fenced like a document's (`begin_upload`). Refused when the job is not queued (a duplicate
        delivery of the invocation) or the subject is not as loaded.
        """
        names = {"#export": export_id, **{f"#f{i}": name for i, name in enumerate(values)}}
        sets = [f"{EXPORTS}.#export.#f{i} = :f{i}" for i in range(len(values))]
        return self.touch(
            subject,
            set_expressions=sets,
            names=names,
            values={":queued": "queued", **{f":f{i}": value for i, value in enumerate(values.values())}},
            add_upload=entry,
            also_require=[f"{EXPORTS}.#export.#status = :queued"],
        )

    def end_export(self, subject: Subject, export_id: str, entry: str, job: dict[str, Any], *, fenced: bool) -> None:
        """The exporter's commit or failure: the job becomes `job` and its upload leaves the uploads in flight.

        Only while the job is `running`, the subject active and no full erasure pending; `fenced`
        also requires the consent version `subject` was loaded with (a commit: the archive shows the
        consents as they were). Raises `dynamo.TransactionConflict` when refused, the entry then stays
        for an erasure's Verify to wait on its deadline.
        """
        condition = _FENCE if fenced else _NOT_ERASING
        guard = _fence_values(subject) if fenced else {":active": SubjectStatus.ACTIVE.value}
        values = {**guard, ":entry": {entry}, ":job": job, ":running": "running"}
        dynamo.transact(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": dynamo.to_item({"subject_id": subject.subject_id}),
                        "UpdateExpression": f"SET {EXPORTS}.#export = :job DELETE #uploads :entry",
                        "ConditionExpression": f"{condition} AND {EXPORTS}.#export.#status = :running",
                        "ExpressionAttributeNames": {
                            "#status": "status",
                            "#uploads": UPLOADS_IN_FLIGHT,
                            "#export": export_id,
                        },
                        "ExpressionAttributeValues": dynamo.to_values(values),
                    }
                }
            ]
        )

    def export_not_started(self, subject_id: str, export_id: str, failure: str) -> None:
        """A job still `queued` that could not be started becomes `failed` (`failure`); else nothing changes."""
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"subject_id": subject_id}),
                UpdateExpression=f"SET {EXPORTS}.#export.#status = :failed, {EXPORTS}.#export.failure = :failure",
                ConditionExpression=f"{EXPORTS}.#export.#status = :queued",
                ExpressionAttributeNames={"#status": "status", "#export": export_id},
                ExpressionAttributeValues=dynamo.to_values(
                    {":failed": "failed", ":failure": failure, ":queued": "queued"}
                ),
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise

    def tombstone(self, subject_id: str, request_id: str) -> None:
        """Replace the subject's record by its tombstone: id, status `erasing`, request and time only.

        The granted purposes, versions, times of activity, disclosures, open requests, a restriction of
        processing and the inactivity index entry go with the rest of the record (a full erasure's ShredKey step). The
        uploads in flight stay until `mark_erasure(..., ERASED)` (Certify), for Verify to wait on. An
        erased or retained record stays as it is (a re-run of a certified erasure; a retained subject's own
        erasure marks it `erasing` first, at Freeze). Idempotent.
        """
        item: dict[str, Any] = {
            "subject_id": subject_id,
            "status": SubjectStatus.ERASING.value,
            "status_request": request_id,
            "status_at": now_iso(),
        }
        # No upload can begin now (its intent is fenced), so the entries read here are all there will be.
        in_flight = self.load(subject_id).uploads_in_flight
        if in_flight:
            item[UPLOADS_IN_FLIGHT] = set(in_flight)
        try:
            clients.dynamodb().put_item(
                TableName=self.table,
                Item=dynamo.to_item(item),
                ConditionExpression="attribute_not_exists(#status) OR NOT #status IN (:erased, :retained)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dynamo.to_values(
                    {":erased": SubjectStatus.ERASED.value, ":retained": SubjectStatus.RETAINED.value}
                ),
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise

    def profile_erased(self, subject_id: str) -> None:
        """Move the profile's version on after a purpose erasure removed categories (an older ETag no longer matches).

        Never creates a record, and leaves an erasing or erased one alone.
        """
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"subject_id": subject_id}),
                UpdateExpression="ADD profile_version :one",
                ConditionExpression="#status = :active",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dynamo.to_values({":one": 1, ":active": SubjectStatus.ACTIVE.value}),
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise

    def leave_inactivity_index(self, subject_id: str, bucket: str) -> bool:
        """Take an erasing or erased subject out of the inactivity index (the sweep's clean-up).

        Conditional on the subject still being in `bucket` and not active without a pending
        erasure, so it never hides a customer the sweep should erase. True when it removed it.
        """
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"subject_id": subject_id}),
                UpdateExpression="REMOVE #bucket",
                ConditionExpression="#bucket = :bucket AND (#status <> :active OR attribute_exists(pending_erasure))",
                ExpressionAttributeNames={"#bucket": datamap.ACTIVITY_BUCKET, "#status": "status"},
                ExpressionAttributeValues=dynamo.to_values({":bucket": bucket, ":active": SubjectStatus.ACTIVE.value}),
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return False
            raise
        return True

    def mark_erasure(
        self,
        subject_id: str,
        status: SubjectStatus,
        request_id: str,
        *,
        ending_retention: bool = False,
    ) -> None:
        """Move the subject forward in its erasure (`erasing`, then `erased`); an erased subject stays erased.

        `erased` also drops the uploads in flight that the tombstone kept for Verify. A `retained` subject
        moves only for the erasure of its kept records (`ending_retention`): a re-run
        of the full erasure that retained them must not take it out of the retention index's care.
        """
        values = {
            ":status": status.value,
            ":request_id": request_id,
            ":at": now_iso(),
            ":erased": SubjectStatus.ERASED.value,
        }
        condition = "attribute_not_exists(#status) OR #status <> :erased"
        if not ending_retention:
            condition = "attribute_not_exists(#status) OR NOT #status IN (:erased, :retained)"
            values[":retained"] = SubjectStatus.RETAINED.value
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"subject_id": subject_id}),
                UpdateExpression="SET #status = :status, status_request = :request_id, status_at = :at"
                + (f" REMOVE {UPLOADS_IN_FLIGHT}" if status is SubjectStatus.ERASED else ""),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dynamo.to_values(values),
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise

    def close_request(self, subject_id: str, request_id: str) -> None:
        """The request is no longer open on the subject (it completed)."""
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=dynamo.to_item({"subject_id": subject_id}),
            UpdateExpression="DELETE open_requests :request_id",
            ExpressionAttributeValues=dynamo.to_values({":request_id": {request_id}}),
        )

    def inactive_since(self, bucket: str, cutoff: str) -> Iterator[dict[str, Any]]:
        """Subjects of one inactivity-index bucket last active at or before `cutoff`.

        Items `{subject_id, last_active_at, ...}` as the index projects them, oldest first; a Query of
        the sparse index, page by page, never a Scan.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": datamap.INACTIVITY_INDEX,
            "KeyConditionExpression": "#bucket = :bucket AND last_active_at <= :cutoff",
            "ExpressionAttributeNames": {"#bucket": datamap.ACTIVITY_BUCKET},
            "ExpressionAttributeValues": dynamo.to_values({":bucket": bucket, ":cutoff": cutoff}),
        }
        while True:
            response = clients.dynamodb().query(**kwargs)
            for item in response.get("Items", []):
                yield dynamo.from_item(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def guarded(
        self,
        subject_id: str,
        attempt: Callable[[Subject], _T],
        on_race: Callable[[], CustodyError] | None = None,
    ) -> _T:
        """Run `attempt` on the current subject; when its transaction lost a race, run it again.

        A race lost to an erasure is refused (403). Otherwise the attempt is re-applied to the
        new state, up to `MAX_ATTEMPTS` times — unless `on_race` says the caller wanted
        exactly the state it read (an `If-Match`), in which case its error is raised.
        """
        for tries in range(MAX_ATTEMPTS):
            if tries:
                time.sleep(random.uniform(0, RETRY_BASE_SECONDS * 2**tries))  # noqa: S311 - jitter, not secrecy
            subject = self.load(subject_id)
            try:
                return attempt(subject)
            except dynamo.TransactionConflict:
                now = self.load(subject_id)
                if now.erasure_started:
                    raise erasure_refusal(now.status) from None
                if on_race is not None:
                    raise on_race() from None
        raise Conflict("The account is being changed by other requests; retry.")
