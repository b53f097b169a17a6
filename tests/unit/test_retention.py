"""The retention dates, at their edges: the boundary instant, leap days, month and year ends, offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custody.declared import clock, datamap, retention
from custody.declared.settings import Settings
from custody.stores import subjects

SETTINGS = Settings(
    inactivity_days=1095,
    key_store_recovery_days=1,
    key_cache_ttl_seconds=300,
    pitr_recovery_days=35,
    backup_retention_days=35,
    activity_epoch_month="2026-01",
)


def at(text: str) -> datetime:
    return clock.parse(text)


def test_due_exactly_at_the_boundary_and_not_a_microsecond_before() -> None:
    last = at("2026-03-01T10:00:00Z")
    due = retention.disposal_due(last, SETTINGS)
    assert clock.iso(due) == "2029-02-28T10:00:00.000Z"  # 1095 days, not three calendar years
    assert retention.is_due(last, due, SETTINGS)
    assert not retention.is_due(last, due - timedelta(microseconds=1), SETTINGS)
    assert retention.inactivity_cutoff(due, SETTINGS) == last


def test_a_leap_day_is_counted_as_a_day() -> None:
    # 2028 is a leap year: 1095 days from 2027-03-01 ends on 2030-02-28, from 2026-03-01 on 2029-02-28.
    assert clock.iso(retention.disposal_due(at("2027-03-01T00:00:00Z"), SETTINGS)) == "2030-02-28T00:00:00.000Z"
    assert clock.iso(retention.disposal_due(at("2028-02-29T12:00:00Z"), SETTINGS)) == "2031-02-28T12:00:00.000Z"


def test_offsets_are_normalised_to_utc_and_naive_moments_refused() -> None:
    assert clock.iso(at("2026-01-31T23:30:00-02:00")) == "2026-02-01T01:30:00.000Z"
    assert subjects.activity_month(at("2026-01-31T23:30:00-02:00")) == "2026-02"
    assert subjects.activity_month(at("2026-02-01T00:30:00+01:00")) == "2026-01"
    with pytest.raises(ValueError, match="no timezone"):
        clock.parse("2026-01-31T23:30:00")
    with pytest.raises(ValueError, match="naive"):
        clock.iso(datetime(2026, 1, 1))
    assert clock.iso(datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))) == "2026-01-01T00:00:00.000Z"


def test_the_millisecond_format_is_what_subjects_write_and_compares_as_text() -> None:
    moment = datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    assert clock.iso(moment) == "2026-12-31T23:59:59.999Z"
    assert clock.iso(moment) < clock.iso(moment + timedelta(milliseconds=1))


def test_months_through_crosses_year_ends_and_is_empty_backwards() -> None:
    assert retention.months_through("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert retention.months_through("2026-05", "2026-05") == ["2026-05"]
    assert retention.months_through("2027-01", "2026-12") == []


def _due_buckets(now: datetime) -> list[str]:
    return subjects.due_buckets(retention.inactivity_cutoff(now, SETTINGS), SETTINGS.activity_epoch_month)


def test_due_buckets_reach_the_cutoff_month_in_every_shard() -> None:
    now = at("2029-01-01T00:00:00Z")  # cutoff 2026-01-02: only January 2026
    assert _due_buckets(now) == [f"2026-01#{shard}" for shard in range(datamap.ACTIVITY_SHARDS)]
    assert _due_buckets(at("2028-12-01T00:00:00Z")) == []  # cutoff 2025-12-02: before the epoch
    later = _due_buckets(at("2029-03-31T00:00:00Z"))  # cutoff 2026-04-01
    assert len(later) == 4 * datamap.ACTIVITY_SHARDS
    assert later[-1].startswith("2026-04#")


def test_the_shard_is_stable_and_spreads() -> None:
    ids = [f"00000000-0000-4000-8000-{index:012d}" for index in range(400)]
    shards = [subjects.activity_shard(subject_id) for subject_id in ids]
    assert shards == [subjects.activity_shard(subject_id) for subject_id in ids]
    assert set(shards) == set(range(datamap.ACTIVITY_SHARDS))
    assert min(shards.count(shard) for shard in set(shards)) > 400 / datamap.ACTIVITY_SHARDS / 2
    assert subjects.activity_bucket(ids[0], at("2026-07-15T00:00:00Z")).startswith("2026-07#")


def test_unrecoverable_after_is_the_key_store_window_plus_the_cache_lifetime() -> None:
    shredded = at("2026-12-31T23:58:00Z")
    assert clock.iso(retention.unrecoverable_after(shredded, SETTINGS)) == "2027-01-02T00:03:00.000Z"


def test_copies_expire_by_the_longer_of_backups_and_pitr() -> None:
    erased = at("2026-02-28T00:00:00Z")
    assert clock.iso(retention.copies_expire_by(erased, SETTINGS)) == "2026-04-04T00:00:00.000Z"
    longer = SETTINGS.model_copy(update={"backup_retention_days": 90, "pitr_recovery_days": 7})
    assert retention.copies_expire_by(erased, longer) == erased + timedelta(days=90)


def test_every_category_with_a_retention_period_has_a_mechanism_that_enforces_it() -> None:
    standing = {policy.store: policy for policy in retention.standing_policies(SETTINGS)}
    assert "none wired" not in {policy.mechanism for policy in standing.values()}
    assert standing["interactions"].days == datamap.INTERACTION_RETENTION_DAYS
    assert standing["exports"].days == datamap.EXPORT_RETENTION_DAYS
    exports = datamap.store("exports")
    assert isinstance(exports, datamap.BucketStore)
    assert exports.expiration_days == datamap.category("exports").retention_days  # the lifecycle rule's source
    assert standing["backups"].days == SETTINGS.backup_retention_days
    written = at("2026-01-01T00:00:00Z")
    assert clock.iso(standing["exports"].disposes_of_data_written_at(written)) == "2026-01-08T00:00:00.000Z"


def test_every_erasure_reason_has_a_policy() -> None:
    from custody.stores.requests import ErasureReason

    for reason in ErasureReason:
        policy = retention.policy_of(reason.value)
        assert policy["version"] == datamap.RETENTION_POLICY_VERSION
        assert policy["policy"]
        assert ":" not in policy["policy"]
