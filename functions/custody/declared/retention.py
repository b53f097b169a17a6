"""Retention dates, computed in one place: when data becomes due, and when its last copy is gone.

Used by the erasure certificate (`unrecoverable_after`), the disposal register, the retention
sweep (who is due; `custody.stores.subjects.due_buckets` turns the cutoff into index partitions)
and `custody retention plan`. Pure functions of the settings and a moment:
no AWS call, no clock read — callers pass `now`, so tests travel in time without sleeping.

All moments are timezone-aware UTC and print in the one format (`custody.declared.clock`). "Inactive past the
period" means `last_active_at + inactivity_days <= now`: a customer is due at exactly that
instant, not a second later.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from custody.declared import datamap
from custody.declared.settings import Settings

# --- customers: inactivity -------------------------------------------------------------------


def disposal_due(last_active_at: datetime, settings: Settings) -> datetime:
    """The instant an inactive customer becomes due for a retention erasure."""
    return last_active_at + timedelta(days=settings.inactivity_days)


def inactivity_cutoff(now: datetime, settings: Settings) -> datetime:
    """Customers last active at or before this instant are due now."""
    return now - timedelta(days=settings.inactivity_days)


def is_due(last_active_at: datetime, now: datetime, settings: Settings) -> bool:
    """Whether a customer last active at `last_active_at` is due for a retention erasure at `now`.

    Due from exactly `disposal_due(last_active_at, settings)` on; both moments aware.
    """
    return disposal_due(last_active_at, settings) <= now


def months_through(first: str, last: str) -> list[str]:
    """`YYYY-MM` months from `first` to `last`, both included (empty when `last` is earlier)."""
    year, month = (int(part) for part in first.split("-"))
    end_year, end_month = (int(part) for part in last.split("-"))
    months = []
    while (year, month) <= (end_year, end_month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def retention_slots(settings: Settings) -> int:
    """The slots retention erasures may fill: `retention_slot_percent` of `erasure_concurrency`, at least one."""
    return max(1, settings.erasure_concurrency * settings.retention_slot_percent // 100)


def sweep_batch(settings: Settings) -> int:
    """How many retention erasures one daily sweep records and hands to admission.

    What the retention slots carry in `retention_window_hours`, each erasure holding its slot
    `erasure_slot_seconds`: slots x window / slot time, bounded by `retention_batch_max`. E.g. 20 slots
    at 75 % for 12 h at 600 s each: 15 x 43,200 / 600 = 1,080 a day. The rest stay due for the next run
    (the sweep publishes how many: `RetentionDueNotStarted`).
    """
    carried = retention_slots(settings) * settings.retention_window_hours * 3600 // settings.erasure_slot_seconds
    return max(1, min(settings.retention_batch_max, carried))


# --- records kept under a legal obligation ---------------------------------------------------


def obligation_ends(obligation: datamap.RetentionObligation, jurisdiction: str, recorded_on: date) -> date:
    """The last day `obligation` keeps a record dated `recorded_on` (e.g. an invoice's issue date), in `jurisdiction`.

    The period in force there (`RetentionObligation.period`): `years` counted from the end of the
    calendar year of `recorded_on` (the last day is then 31 December, `years` later), or from the record's
    own date (the same day `years` later; 28 February for a 29 February). The record is due for disposal
    from the next day on (`end_of_day`).
    """
    period = obligation.period(jurisdiction)
    if period.from_year_end:
        return date(recorded_on.year + period.years, 12, 31)
    return add_years(recorded_on, period.years)


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 28 February when `day` is a 29 February and the year is not a leap year."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def end_of_day(day: date) -> datetime:
    """The instant a day ends (UTC): the start of the next day. An obligation or a hold 'until' a day lasts to here."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def response_due(received_at: datetime) -> datetime:
    """When a data subject's request must be answered: one calendar month after it was received (GDPR art. 12(3)).

    The same day of the next month, or that month's last day when it has no such day (Regulation
    1182/71 art. 3(2)(c)). A request held by a legal hold past this moment is `past due`: the customer must
    have been told why the controller does not act (art. 12(4)); the retention plan and the
    `HeldErasuresPastDue` metric show it.
    """
    year, month = (received_at.year + 1, 1) if received_at.month == 12 else (received_at.year, received_at.month + 1)
    day = min(received_at.day, calendar.monthrange(year, month)[1])
    return received_at.replace(year=year, month=month, day=day)


# --- after erasure: copies -------------------------------------------------------------------


def unrecoverable_after(shredded_at: datetime, settings: Settings) -> datetime:
    """No copy of the shredded key survives past the key store's PITR window and the key caches' lifetime.

    The key table is excluded from AWS Backup, so its PITR window is the only copy; a function may
    still hold the unwrapped key in memory for `key_cache_ttl_seconds`. After this instant every
    remaining copy of the customer's data (PITR, backups) is ciphertext nobody can decrypt.
    """
    return shredded_at + timedelta(days=settings.key_store_recovery_days, seconds=settings.key_cache_ttl_seconds)


def copies_expire_by(erased_at: datetime, settings: Settings) -> datetime:
    """When the last (undecryptable) copy of erased rows is gone: the longer of data-table PITR and backups.

    A recovery point taken before the erasure holds the rows until it is deleted, at most
    `backup_retention_days` after it was taken (Vault Lock's maximum enforces it); PITR can restore
    the table to any moment in the last `pitr_recovery_days`.
    """
    return erased_at + timedelta(days=max(settings.backup_retention_days, settings.pitr_recovery_days))


# --- the plan: what goes next, and when ------------------------------------------------------


@dataclass(frozen=True)
class StandingPolicy:
    """A rule that disposes of data on its own: a TTL, a lifecycle rule, a backup lifetime."""

    store: str
    mechanism: str
    days: int

    def disposes_of_data_written_at(self, moment: datetime) -> datetime:
        """When this policy disposes of data written at `moment`: `days` days later."""
        return moment + timedelta(days=self.days)


def standing_policies(settings: Settings) -> list[StandingPolicy]:
    """Every automatic disposal the data map and the settings declare."""
    policies = []
    for category in datamap.CATEGORIES:
        if category.retention_days is None:
            continue
        store = datamap.store(category.store)
        if isinstance(store, datamap.TableStore) and store.ttl_attribute:
            mechanism = f"DynamoDB TTL on {store.ttl_attribute}"
        elif isinstance(store, datamap.BucketStore) and store.expiration_days:
            mechanism = "S3 lifecycle expiration (noncurrent versions: 1 day later)"
        else:
            mechanism = "none wired"  # a test fails on this: retention must be enforced by a mechanism
        policies.append(StandingPolicy(store.name, mechanism, category.retention_days))
    policies.append(
        StandingPolicy("backups", "AWS Backup recovery point deletion (Vault Lock max)", settings.backup_retention_days)
    )
    policies.append(StandingPolicy("pitr", "DynamoDB point-in-time recovery window", settings.pitr_recovery_days))
    policies.append(
        StandingPolicy("subject_keys", "PITR window of the key store (no backups)", settings.key_store_recovery_days)
    )
    return policies


def obligation_policies(settings: Settings) -> list[dict[str, object]]:
    """Every legal obligation the data map declares, with the period in force under `settings.jurisdiction`.

    Each: `obligation`, `categories`, `legal_basis`, `jurisdiction`, `years`, `from_year_end`, `source`,
    and `mechanism` (how each record and, after a full erasure, the customer's retained key are disposed of).
    """
    found: list[dict[str, object]] = []
    for obligation in datamap.OBLIGATIONS.values():
        period = obligation.period(settings.jurisdiction)
        stores = sorted({category.store for category in datamap.categories_under(obligation.name)})
        found.append(
            {
                "obligation": obligation.name,
                "categories": [category.name for category in datamap.categories_under(obligation.name)],
                "legal_basis": obligation.legal_basis,
                "jurisdiction": settings.jurisdiction,
                "years": period.years,
                "from_year_end": period.from_year_end,
                "source": period.source,
                "mechanism": f"DynamoDB TTL at each record's end ({', '.join(stores)}); after a full erasure, the "
                "retention sweep's erasure (reason retention_obligation_ended) when the last one ends",
            }
        )
    return found


def policy_of(reason: str) -> dict[str, str]:
    """The policy a disposal happened under, as the register cites it."""
    return {
        "policy": datamap.DISPOSAL_POLICIES.get(reason, reason).split(":", 1)[0],
        "version": datamap.RETENTION_POLICY_VERSION,
    }
