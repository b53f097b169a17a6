"""The requests register: every data-subject request received, when it is due, extended once, answered.

Why one register in the `requests` table, not due dates on each kind's own record: an access request
(the export's job on the subject record), a rectification (the change request, in a personal store)
and their records go with the customer when they are erased, but proving that each request was
answered in time is the controller's accountability record (GDPR art. 5(2), 12(3)) and must outlive
them; and "what falls due next" must be one Query over every kind (`by_due`), not a search of three
tables. So each kind keeps what the customer asked on its own record, and the register keeps its
deadline under the same id, written in the same transaction as the request itself
(`RequestsRegister.receive`), by the one repository that owns the table (`custody.stores.requests`).

* **Receipt**: the request is recorded `received` with its due date under `Settings.jurisdiction`
  (`custody.declared.jurisdictions`) and the customer is told (`acknowledge`: the receipt notice).
* **Extension** (`extend`): a privacy officer moves the due date once, before it passes, for a
  declared reason the jurisdiction admits; audited on the subject's chain (`request_extended`, target
  `extension:<reason>`), the customer told (the extension notice). A reason is a code, never free
  text: the requests table outlives the customer and the ledger cannot be edited.
* **Answer** (`answered`, `unanswered`): completed (out of the `by_due` index) or failed (still open).
* **Due** (`due_counts`, `open_entries`, `entries`): what falls due by when, for the alarm, the
  `custody requests` commands and the staff route.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from custody.audit.ledger import AuditLedger, subject_chain
from custody.declared import clock, jurisdictions
from custody.declared.errors import Conflict, InvalidInput, NotFound
from custody.declared.jurisdictions import EXTENSION_REASONS, ExtensionNotAllowed, RequestKind
from custody.declared.notices import KIND_LABELS, OUTCOME_LABELS, NoticeKind, date_of
from custody.declared.settings import Settings
from custody.notices.mailer import NoticeOutcome, Notices
from custody.stores.identities import CustomerIdentity
from custody.stores.requests import (
    EXTENSION,
    OPEN_KIND,
    OPEN_STATUSES,
    DataRequest,
    ErasureRequest,
    RequestsTable,
    RequestStatus,
    deadline_view,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

EXTENDED_STEP: Final = "request_extended"
EXTENDED_OUTCOME: Final = "extended"
# At most this many entries in one listing (the staff route's, the command's): bounded reads and responses.
LISTING_LIMIT: Final = 500


@dataclass(frozen=True)
class DueCounts:
    """Open requests overdue at a moment, and due within the warning window after it, in all and by kind."""

    overdue: int
    due_soon: int
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)


class RequestsRegister:
    """The register under `settings`: receipt, extension, answer and due dates of data-subject requests.

    DynamoDB, KMS and Cognito errors pass through as botocore's `ClientError`; a notice never raises
    (`custody.notices.mailer`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.requests = RequestsTable(settings)
        self.notices = Notices(settings)

    # --- receipt ----------------------------------------------------------------------------

    def receive(
        self, kind: RequestKind, request_id: str, subject_id: str
    ) -> tuple[DataRequest, TransactWriteItemTypeDef]:
        """A request of `kind` (not an erasure) received now, and the transaction item that records it.

        The caller writes the item in the same transaction as the request itself, so the deadline
        exists exactly when the request does.
        """
        request = DataRequest.received(kind, request_id, subject_id, self.settings.jurisdiction)
        return request, self.requests.put_new(request)

    def acknowledge(self, request: ErasureRequest | DataRequest, address: str | None) -> NoticeOutcome:
        """Send the receipt notice of a request just recorded (request id, kind, due date) to `address`.

        A request without a due date (a retention erasure) is not acknowledged: nobody asked for it.
        """
        kind = RequestKind.ERASURE if isinstance(request, ErasureRequest) else request.kind
        if request.due_at is None or request.jurisdiction is None:
            return NoticeOutcome("not_sent", "no_due_date")
        values = {
            "request_id": request.request_id,
            "kind": KIND_LABELS[kind.value],
            "received_date": date_of(request.created_at),
            "due_date": date_of(request.due_at),
            "law": jurisdictions.jurisdiction(request.jurisdiction).name,
        }
        return self.notices.send(request.request_id, NoticeKind.RECEIPT, address, values)

    # --- answer -----------------------------------------------------------------------------

    def answered(self, request_id: str, outcome: str, address: str | None = None, *, notify: bool = True) -> bool:
        """Record a request of another kind than erasure `completed` with `outcome` (an `OUTCOME_LABELS` word).

        With `notify`, the customer is sent the completion notice at `address` (none: recorded
        `not_sent`). Returns whether the request was open and is now completed; a closed, missing or
        erasure request is left alone (and nobody is told).
        """
        if not self.requests.close_now(request_id, RequestStatus.COMPLETED, outcome):
            return False
        if notify:
            item = self.requests.load(request_id) or {}
            kind = str(item.get("kind", ""))
            values = {
                "request_id": request_id,
                "kind": KIND_LABELS.get(kind, ""),
                "completed_date": date_of(str(item.get("completed_at", clock.now_iso()))),
                "outcome": OUTCOME_LABELS.get(outcome, ""),
            }
            self.notices.send(request_id, NoticeKind.COMPLETION, address, values)
        return True

    def unanswered(self, request_id: str, failure: str) -> bool:
        """Record that an attempt to answer a request of another kind failed (`failure`, a word); it stays open."""
        return self.requests.close_now(request_id, RequestStatus.FAILED, failure)

    # --- extension --------------------------------------------------------------------------

    def extend(self, request_id: str, reason: str, staff_id: str) -> dict[str, Any]:
        """Extend the request's period once, for `reason`, by the staff member `staff_id`; returns its view.

        Raises `InvalidInput` (422) for a reason that is not a declared code the request's jurisdiction
        admits, `NotFound` for no such request, and `Conflict` (409, `details.reason`: `no_due_date`,
        `closed`, `already_extended`, `not_extendable`, `past_due`) when the request cannot be extended;
        nothing is written then. The extension is recorded in the audit ledger (the subject's chain) and
        the customer is sent the extension notice at the address Cognito holds for them.
        """
        if reason not in EXTENSION_REASONS:
            raise _bad_reason(sorted(EXTENSION_REASONS))
        item = self.requests.load(request_id)
        if item is None:
            raise NotFound("No such request.")
        policy = self._refusal(item, reason)
        previous = str(item["due_at"])
        due_at = clock.iso(policy.extended_due_at(clock.parse(previous)))
        if not self.requests.extend(request_id, previous_due_at=previous, due_at=due_at, reason=reason, by=staff_id):
            current = self.requests.load(request_id) or item
            self._refusal(current, reason)  # says which rule a concurrent change broke
            raise Conflict("The request changed meanwhile; read it again.", {"reason": "changed"})
        subject_id = str(item["subject_id"])
        AuditLedger(self.settings).record(
            step=EXTENDED_STEP,
            target=f"extension:{reason}",
            outcome=EXTENDED_OUTCOME,
            actor=f"staff/{staff_id}",
            request_id=request_id,
            subject_id=subject_id,
            chain_id=subject_chain(subject_id),
        )
        kind = str(item.get("kind", RequestKind.ERASURE.value))
        self.notices.send(
            request_id,
            NoticeKind.EXTENSION,
            CustomerIdentity(self.settings).email(subject_id),
            {
                "request_id": request_id,
                "kind": KIND_LABELS[kind],
                "reason": EXTENSION_REASONS[reason].description,
                "law": policy.name,
                "due_date": date_of(due_at),
                "previous_due_date": date_of(previous),
            },
        )
        return entry_of(self.requests.load(request_id) or item, clock.now())

    def _refusal(self, item: dict[str, Any], reason: str) -> jurisdictions.Jurisdiction:
        """The request's jurisdiction when it may be extended for `reason` now; else the refusal, raised."""
        if not item.get("due_at") or not item.get("jurisdiction"):
            raise Conflict("This request has no due date: nobody asked for it.", {"reason": "no_due_date"})
        if OPEN_KIND not in item:
            raise Conflict("This request is answered already.", {"reason": "closed"})
        if item.get(EXTENSION):
            raise Conflict("This request was extended already: the law allows it once.", {"reason": "already_extended"})
        policy = jurisdictions.jurisdiction(str(item["jurisdiction"]))
        if policy.extension is None:
            raise Conflict(f"The {policy.name} allows no extension.", {"reason": "not_extendable"})
        if reason not in policy.reasons:
            raise _bad_reason(list(policy.reasons))
        if clock.now_iso() > str(item["due_at"]):
            raise Conflict("This request is past its due date: it can no longer be extended.", {"reason": "past_due"})
        try:
            policy.extended_due_at(clock.parse(str(item["due_at"])))
        except ExtensionNotAllowed:
            raise Conflict(f"The {policy.name} allows no extension.", {"reason": "not_extendable"}) from None
        return policy

    # --- due dates --------------------------------------------------------------------------

    def due_counts(self, now: datetime) -> DueCounts:
        """Open requests overdue at `now`, and due after it within `Settings.request_due_warning_days`.

        Two counting Queries of the `by_due` index per kind (never a Scan, nothing read but counts).
        """
        overdue_at = clock.iso(now)
        horizon = clock.iso(now + timedelta(days=self.settings.request_due_warning_days))
        by_kind: dict[str, dict[str, int]] = {}
        for kind in RequestKind:
            overdue = self.requests.count_due_by(kind, overdue_at)
            soon = self.requests.count_due_by(kind, horizon) - overdue
            by_kind[kind.value] = {"overdue": overdue, "due_soon": soon}
        return DueCounts(
            overdue=sum(counts["overdue"] for counts in by_kind.values()),
            due_soon=sum(counts["due_soon"] for counts in by_kind.values()),
            by_kind=by_kind,
        )

    def open_entries(
        self, now: datetime, *, within_days: int | None = None, kinds: Iterable[RequestKind] = tuple(RequestKind)
    ) -> list[dict[str, Any]]:
        """Open requests, soonest due first: those due within `within_days` of `now` (overdue included), or all.

        At most `LISTING_LIMIT`; Queries of the `by_due` index, then the records found (BatchGetItem).
        """
        horizon = clock.iso(now + timedelta(days=within_days)) if within_days is not None else "9999"
        found: list[str] = []
        for kind in kinds:
            found += [str(item["request_id"]) for item in self.requests.open_due_by(kind, horizon, limit=LISTING_LIMIT)]
        entries = [entry_of(item, now) for item in self.requests.load_many(found)]
        return sorted(entries, key=lambda entry: (entry["due_at"] or "", entry["request_id"]))[:LISTING_LIMIT]

    def entries(self, since: datetime, until: datetime, now: datetime) -> list[dict[str, Any]]:
        """Every request received in `[since, until]`, of every kind and status, oldest first (at most `LISTING_LIMIT`).

        Queries of the `by_status` index by receipt date, then the records found (BatchGetItem).
        """
        found: list[str] = []
        for status in RequestStatus:
            for item in self.requests.by_status(
                status, created_between=(clock.iso(since), clock.iso(until)), limit=LISTING_LIMIT
            ):
                found.append(str(item["request_id"]))
        entries = [entry_of(item, now) for item in self.requests.load_many(found)]
        return sorted(entries, key=lambda entry: (entry["received_at"], entry["request_id"]))[:LISTING_LIMIT]

    def of_subject(self, request_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The customer's own view of their requests (the `requests` section of `GET /v1/me`), oldest first."""
        now = clock.now()
        views = [customer_view(item, now) for item in self.requests.load_many(request_ids)]
        return sorted(views, key=lambda view: (view["received_at"], view["request_id"]))


def entry_of(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One line of the register from a request's record: ids, kind, status and every date, `overdue` at `now`.

    The subject id is opaque (its link to a person goes with the identity when they are erased).
    """
    deadline = deadline_view(item)
    due_at = deadline["due_at"]
    completed_at = deadline["completed_at"]
    # A held erasure waits lawfully but is unanswered all the same: open, and overdue once its date passes.
    waiting = {status.value for status in (*OPEN_STATUSES, RequestStatus.HELD)}
    open_now = item.get("status") in waiting and OPEN_KIND in item
    return {
        "request_id": item["request_id"],
        "kind": item.get("kind", RequestKind.ERASURE.value),
        "subject_id": item.get("subject_id"),
        "status": item["status"],
        "reason": item.get("reason"),
        **deadline,
        "open": open_now,
        "overdue": bool(open_now and due_at and clock.iso(now) > due_at),
        "on_time": (completed_at <= due_at) if completed_at and due_at else None,
    }


def customer_view(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A request as its customer sees it in `GET /v1/me`: the register's line without the opaque subject id."""
    entry = entry_of(item, now)
    entry.pop("subject_id", None)
    entry["status_url"] = f"/v1/requests/{item['request_id']}"
    return entry


def _bad_reason(allowed: list[str]) -> InvalidInput:
    return InvalidInput(
        "The reason must be a declared code this request's law admits.",
        {"fields": [{"field": "reason", "reason": f"must be one of {allowed}"}]},
    )


def reasons() -> Iterator[tuple[str, str]]:
    """(code, the sentence the customer is told) of every declared extension reason."""
    for code, reason in EXTENSION_REASONS.items():
        yield code, reason.description
