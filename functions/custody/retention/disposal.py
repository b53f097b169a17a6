"""Disposal: the retention sweep, the erasure SLA measure, the disposal register and the plan.

* The **sweep** finds customers inactive past `Settings.inactivity_days` through the sparse
  `inactivity` index of the subjects table (partition `YYYY-MM#<shard>`, sort `last_active_at`): one
  Query per month and shard from `activity_epoch_month` to the cutoff's month — never a Scan. It
  erases each through `ErasureStarter.retire` (reason `retention`, the same workflow, through
  admission), at most `retention.sweep_batch` per run — what the erasure capacity carries in a day,
  sized from `erasure_concurrency` — and counts the due customers it leaves for the next run. A
  retention erasure takes the subject out of the index in the same transaction, so a second run
  finds nothing; subjects already erasing or erased that it meets are taken out too. A customer who
  came back between the Query and the write is not erased (the write requires `last_active_at`
  unchanged).
* It also **releases held erasures** whose legal hold has ended (`custody.erasure.holds`: the `held`
  requests of the `by_status` index, and each one's subject), and **ends retentions**: the subjects
  whose records a legal obligation kept after their full erasure (status `retained`) are found through
  the sparse `retention_end` index (partition: a shard, sort: `retention_ends_at`; one Query per shard)
  and erased through `ErasureStarter.end_retention` (reason `retention_obligation_ended`, the same
  workflow, through admission) once their last obligation has ended — unless a legal hold lies on them
  (counted `held`, tried again the next day). Both share the run's batch with the inactivity erasures.
* The **SLA measure** is the age of the oldest erasure request not completed, from the requests
  table's `by_status` index (a Query per open status, oldest first, erasures only: the table holds
  every kind of data-subject request, `custody.stores.requests`): counted from when it was
  received, or from when a legal hold released it (it could not run before). Held requests are
  measured apart (`held_erasures`): how many, the oldest's age, and how many are past the one month
  GDPR art. 12(3) allows for an answer (`retention.response_due`).
* The **register** lists what was destroyed, when it was asked for and due, why, under which policy
  and with which verification result, from the same index (completed and failed erasures by date)
  and the requests' records with their certificates: ids, reasons, counts and dates — never personal
  data.
* The **plan** lists who is due next and when, and the standing rules (TTL, lifecycle, backups).

Dates come from `custody.declared.retention`, the one place they are computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from custody.audit.ledger import AuditLedger
from custody.declared import clock, datamap, retention
from custody.declared.errors import Conflict, Forbidden
from custody.declared.settings import Settings
from custody.erasure.holds import HeldErasures
from custody.erasure.starter import RETENTION_ACTOR, ErasureStarter
from custody.stores import subjects
from custody.stores.requests import OPEN_STATUSES, RequestsTable, RequestStatus
from custody.stores.subjects import SubjectRegistry, SubjectStatus

SWEEP_CHAIN: Final = "retention/sweeps"
# Due entries past the batch are counted (the index read on, keys only) up to this many: the backlog
# metric says "at least this many" beyond it, and the run's cost stays bounded.
DUE_COUNT_LIMIT: Final = 10_000
CLOSED_STATUSES: Final = (RequestStatus.COMPLETED, RequestStatus.FAILED)


@dataclass
class SweepReport:
    """What one run did: counts only."""

    cutoff: str
    buckets_queried: int = 0
    candidates: int = 0
    started: int = 0
    skipped: int = 0  # already erasing or erased, stale index entry, or active again
    deferred: bool = False  # more were due than the batch allows: the next run continues
    # Index entries due but left for a later run (counted up to `DUE_COUNT_LIMIT`; some may prove
    # skipped): the backlog the `RetentionDueNotStarted` metric and its alarm watch.
    due_not_started: int = 0
    holds_released: int = 0  # held erasures started because their legal hold ended
    held: int = 0  # erasures (or retained subjects' ends) a legal hold still holds
    retention_ended: int = 0  # erasures of records whose legal obligations ended, recorded and handed to admission
    # Every index Query of the run (the first page of each): the inactivity buckets, the held requests, the
    # retention index's shards.
    index_queries: int = 0
    request_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The report's counts as the sweep's audit event carries them (`deferred` as 0 or 1)."""
        return {
            "buckets_queried": self.buckets_queried,
            "candidates": self.candidates,
            "started": self.started,
            "skipped": self.skipped,
            "deferred": int(self.deferred),
            "due_not_started": self.due_not_started,
            "holds_released": self.holds_released,
            "held": self.held,
            "retention_ended": self.retention_ended,
            "index_queries": self.index_queries,
        }


@dataclass(frozen=True)
class Candidate:
    """An inactivity-index entry due for erasure.

    The subject, its index partition (`YYYY-MM#<shard>`) and its `last_active_at` as the index holds it.
    """

    subject_id: str
    bucket: str
    last_active_at: str


class RetentionSweep:
    """The retention sweep under `settings`: erases customers inactive past `inactivity_days`.

    Storage limitation (GDPR art. 5(1)(e)): data is kept no longer than its purpose needs. DynamoDB
    and Step Functions errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.erasures = ErasureStarter(settings)

    def candidates(self, now: datetime) -> Iterator[tuple[str, Candidate | None]]:
        """(bucket, candidate) for every index entry due at `now`; (bucket, None) once per bucket queried."""
        cutoff = clock.iso(retention.inactivity_cutoff(now, self.settings))
        for bucket in subjects.due_buckets(
            retention.inactivity_cutoff(now, self.settings), self.settings.activity_epoch_month
        ):
            yield bucket, None
            for item in self.subjects.inactive_since(bucket, cutoff):
                yield bucket, Candidate(str(item["subject_id"]), bucket, str(item["last_active_at"]))

    def run(self, now: datetime) -> SweepReport:
        """One sweep at `now` (aware): a retention erasure for each due customer, at most `retention.sweep_batch`.

        Each erasure goes through admission: it starts now if a retention slot is free, else waits on
        the admission queue. Due customers past the batch are counted (`due_not_started`), not started.

        A candidate already erasing or erased leaves the index; one the index shows due but whose record
        is newer, or who came back meanwhile (`Conflict`, `Forbidden` from `ErasureStarter.retire`), is
        skipped. The run's counts go to the audit ledger's `retention/sweeps` chain. Returns the report.
        """
        cutoff = retention.inactivity_cutoff(now, self.settings)
        report = SweepReport(cutoff=clock.iso(cutoff))
        batch = retention.sweep_batch(self.settings)
        for _, candidate in self.candidates(now):
            if candidate is None:
                report.buckets_queried += 1
                report.index_queries += 1
                continue
            if report.started >= batch:
                report.deferred = True
                report.due_not_started += 1
                if report.due_not_started >= DUE_COUNT_LIMIT:
                    break
                continue
            report.candidates += 1
            request_id = self._erase(candidate, now)
            if request_id is None:
                report.skipped += 1
            else:
                report.started += 1
                report.request_ids.append(request_id)
        report.holds_released, report.held = HeldErasures(self.settings).release_ended(
            clock.iso(now), actor=RETENTION_ACTOR
        )
        report.index_queries += 1
        self._end_retentions(now, report, batch)
        AuditLedger(self.settings).record(
            step="retention_sweep",
            target="subjects",
            outcome="ok",
            actor=RETENTION_ACTOR,
            chain_id=SWEEP_CHAIN,
            counts=report.counts(),
        )
        return report

    def _end_retentions(self, now: datetime, report: SweepReport, batch: int) -> None:
        """Erase what obligations kept of retained subjects whose last obligation ended at `now`, within `batch`."""
        moment = clock.iso(now)
        for shard in range(datamap.ACTIVITY_SHARDS):
            report.index_queries += 1
            for item in self.subjects.retention_ending(str(shard), moment):
                if report.started + report.retention_ended >= batch:
                    report.deferred = True
                    report.due_not_started += 1
                    continue
                subject = self.subjects.load(str(item["subject_id"]))
                if subject.status is not SubjectStatus.RETAINED or subject.pending_erasure:
                    self.subjects.leave_retention_index(subject.subject_id, str(shard))
                    continue
                if subject.retention_ends_at is None or subject.retention_ends_at > moment:
                    continue  # the index lags the record
                if subject.hold_active(moment):
                    report.held += 1
                    continue
                try:
                    request = self.erasures.end_retention(subject.subject_id, subject.retention_ends_at)
                except (Conflict, Forbidden):
                    report.skipped += 1
                    continue
                report.retention_ended += 1
                report.request_ids.append(request.request_id)

    def _erase(self, candidate: Candidate, now: datetime) -> str | None:
        subject = self.subjects.load(candidate.subject_id)
        if subject.status is not SubjectStatus.ACTIVE or subject.pending_erasure:
            self.subjects.leave_inactivity_index(candidate.subject_id, candidate.bucket)
            return None
        if subject.last_active_at is None or not retention.is_due(
            clock.parse(subject.last_active_at), now, self.settings
        ):
            return None  # the index lags a newer activity: not due
        try:
            return self.erasures.retire(candidate.subject_id, subject.last_active_at).request_id
        except (Conflict, Forbidden):
            return None


# --- the SLA: how old is the oldest open erasure ----------------------------------------------


@dataclass(frozen=True)
class OpenErasures:
    """The erasure SLA's measure: open requests, and the oldest one's id and age in seconds (0 when none)."""

    count: int
    oldest_request_id: str | None
    oldest_age_seconds: float


def open_erasures(settings: Settings, now: datetime) -> OpenErasures:
    """Requests received, in progress or failed — not complete — and the age of the oldest.

    A request's age runs from when it was received, or from when a legal hold released it
    (`hold_released_at`): before, it could not run, and the held time is measured apart (`held_erasures`).
    Per open status the requests are read oldest first until none can be older than the oldest found: one
    GetItem each (the index does not project the release time), usually one per status.
    """
    requests = RequestsTable(settings)
    count, oldest_id, oldest_age = 0, None, 0.0
    for status in OPEN_STATUSES:
        count += requests.count(status, erasures_only=True)
        for entry in requests.by_status(status, erasures_only=True):
            received_age = (now - clock.parse(str(entry["created_at"]))).total_seconds()
            if oldest_id is not None and received_age <= oldest_age:
                break
            item = requests.load(str(entry["request_id"])) or entry
            since = str(item.get("hold_released_at") or entry["created_at"])
            age = max((now - clock.parse(since)).total_seconds(), 0.0)
            if oldest_id is None or age > oldest_age:
                oldest_id, oldest_age = str(entry["request_id"]), age
            if not item.get("hold_released_at"):
                break  # no later request of this status can be older than this one
    return OpenErasures(count, oldest_id, oldest_age)


@dataclass(frozen=True)
class HeldErasureCounts:
    """Erasures a legal hold holds.

    How many, the oldest's age in seconds (since received), and how many are past their response date
    (`retention.response_due`: one month after they were received).
    """

    count: int
    oldest_age_seconds: float
    past_due: int


def held_erasures(settings: Settings, now: datetime) -> HeldErasureCounts:
    """The `held` requests of the `by_status` index (a Query, never a Scan): count, oldest age, past due."""
    count, oldest, past_due = 0, 0.0, 0
    for entry in RequestsTable(settings).by_status(RequestStatus.HELD, erasures_only=True):
        received = clock.parse(str(entry["created_at"]))
        count += 1
        oldest = max(oldest, (now - received).total_seconds())
        past_due += int(retention.response_due(received) <= now)
    return HeldErasureCounts(count, oldest, past_due)


# --- the register: what was destroyed ---------------------------------------------------------


def register(settings: Settings, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Every erasure that completed or failed among requests created in [since, until], oldest first.

    The index finds them (erasures only); their records (one `BatchGetItem` per 100) give the dates.
    """
    requests = RequestsTable(settings)
    found = [
        str(item["request_id"])
        for status in CLOSED_STATUSES
        for item in requests.by_status(status, created_between=(clock.iso(since), clock.iso(until)), erasures_only=True)
    ]
    entries = [register_entry(item, settings) for item in requests.load_many(found)]
    return sorted(entries, key=lambda entry: (entry["requested_at"], entry["request_id"]))


def register_entry(item: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """One line of the register from a request's record (its certificate when it completed).

    With when it was asked for (`requested_at`) and due (`due_at`, None for a retention erasure, which
    nobody asked for), and whether its period was extended.
    `retained` lists what a full erasure kept under a legal obligation (category, obligation, until), and
    `obligations_ended` what the end of a retention erased, from the certificate.
    """
    certificate: dict[str, Any] = item.get("certificate") or {}
    reason = str(item["reason"])
    completed = item.get("status") == RequestStatus.COMPLETED.value and bool(certificate)
    destroyed_at = certificate.get("completed_at") if completed else None
    return {
        "request_id": item["request_id"],
        "subject_id": item.get("subject_id"),  # opaque: its link to a person was erased with the identity
        "reason": reason,
        **retention.policy_of(reason),
        "requested_at": item["created_at"],
        "due_at": item.get("due_at"),
        "extended": item.get("extension") is not None,
        "on_time": (destroyed_at <= item["due_at"]) if destroyed_at and item.get("due_at") else None,
        "destroyed_at": destroyed_at,
        "stores": {name: int(count) for name, count in (certificate.get("stores") or {}).items()},
        "verification": "passed: nothing remained in any store" if completed else f"not certified: {item['status']}",
        "unrecoverable_after": certificate.get("unrecoverable_after"),
        "copies_expire_by": clock.iso(retention.copies_expire_by(clock.parse(destroyed_at), settings))
        if destroyed_at
        else None,
        "certificate_digest": item.get("certificate_digest"),
        "retained": [
            {key: entry.get(key) for key in ("category", "obligation", "until")}
            for entry in certificate.get("retained") or ()
        ],
        "obligations_ended": [
            {key: entry.get(key) for key in ("obligation", "categories", "until")}
            for entry in certificate.get("obligations_ended") or ()
        ],
    }


# --- the plan: what goes next -----------------------------------------------------------------


def plan(settings: Settings, now: datetime, horizon_days: int = 30, limit: int = 100) -> dict[str, Any]:
    """Customers due for a retention erasure by `now + horizon_days`, and the standing rules."""
    horizon = now + timedelta(days=horizon_days)
    sweep = RetentionSweep(settings)
    due = []
    for _, candidate in sweep.candidates(horizon):
        if candidate is None:
            continue
        due_at = retention.disposal_due(clock.parse(candidate.last_active_at), settings)
        due.append(
            {
                "subject_id": candidate.subject_id,
                "last_active_at": candidate.last_active_at,
                "due_at": clock.iso(due_at),
                "overdue": due_at <= now,
            }
        )
        if len(due) >= limit:
            break
    return {
        "now": clock.iso(now),
        "horizon": clock.iso(horizon),
        "inactivity_days": settings.inactivity_days,
        "policy_version": datamap.RETENTION_POLICY_VERSION,
        "customers_due": sorted(due, key=lambda entry: (entry["due_at"], entry["subject_id"])),
        "retention_ending": _retention_ending(settings, horizon, now, limit),
        "held_erasures": _held(settings, now, limit),
        "standing": [asdict(policy) for policy in retention.standing_policies(settings)],
        "obligations": retention.obligation_policies(settings),
    }


def _retention_ending(settings: Settings, horizon: datetime, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Retained subjects whose last legal obligation ends by `horizon`: when, and whether it already has."""
    registry = SubjectRegistry(settings)
    found = []
    for shard in range(datamap.ACTIVITY_SHARDS):
        for item in registry.retention_ending(str(shard), clock.iso(horizon)):
            ends_at = str(item[datamap.RETENTION_ENDS_AT])
            found.append({"subject_id": item["subject_id"], "ends_at": ends_at, "overdue": ends_at <= clock.iso(now)})
            if len(found) >= limit:
                break
    return sorted(found, key=lambda entry: (entry["ends_at"], entry["subject_id"]))[:limit]


def _held(settings: Settings, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Erasure requests a legal hold holds: when received, when the answer was due, whether that has passed."""
    found = []
    for entry in RequestsTable(settings).by_status(RequestStatus.HELD, limit=limit):
        received = clock.parse(str(entry["created_at"]))
        due = retention.response_due(received)
        found.append(
            {
                "request_id": entry["request_id"],
                "subject_id": entry.get("subject_id"),
                "reason": entry.get("reason"),
                "received_at": clock.iso(received),
                "response_due": clock.iso(due),
                "past_due": due <= now,
            }
        )
    return found
