"""Due dates of data-subject requests: month ends, leap years, year ends, 45 + 45 days, and their properties."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from custody.declared import clock, jurisdictions
from custody.declared.jurisdictions import JURISDICTIONS, ExtensionNotAllowed, Period
from custody.declared.settings import Settings

GDPR, CCPA, DEFAULT = (JURISDICTIONS[code] for code in ("gdpr", "ccpa", "default"))


def received(text: str) -> datetime:
    return clock.parse(text)


def due(policy: jurisdictions.Jurisdiction, text: str) -> str:
    return clock.iso(policy.due_at(received(text)))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-01-15T09:00:00Z", "2026-02-15T23:59:59.999Z"),  # the same date, a month on
        ("2026-01-31T09:00:00Z", "2026-02-28T23:59:59.999Z"),  # February has no 31st: its last day
        ("2028-01-31T09:00:00Z", "2028-02-29T23:59:59.999Z"),  # ... 29th in a leap year
        ("2028-01-29T00:00:00Z", "2028-02-29T23:59:59.999Z"),
        ("2027-01-29T00:00:00Z", "2027-02-28T23:59:59.999Z"),  # no 29 February in 2027
        ("2028-02-29T12:00:00Z", "2028-03-29T23:59:59.999Z"),  # from a leap day
        ("2026-03-31T00:00:00Z", "2026-04-30T23:59:59.999Z"),
        ("2026-12-31T23:59:59.999Z", "2027-01-31T23:59:59.999Z"),  # across the year end
        ("2026-12-01T00:00:00Z", "2027-01-01T23:59:59.999Z"),
    ],
)
def test_gdpr_one_month_ends_on_the_same_date_or_the_months_last_day(at: str, expected: str) -> None:
    assert due(GDPR, at) == expected


@pytest.mark.parametrize(
    ("at", "first", "extended"),
    [
        ("2026-01-31T10:00:00Z", "2026-02-28T23:59:59.999Z", "2026-04-28T23:59:59.999Z"),
        ("2027-12-31T10:00:00Z", "2028-01-31T23:59:59.999Z", "2028-03-31T23:59:59.999Z"),
        ("2027-11-30T10:00:00Z", "2027-12-30T23:59:59.999Z", "2028-02-29T23:59:59.999Z"),  # leap February's end
        ("2026-11-30T10:00:00Z", "2026-12-30T23:59:59.999Z", "2027-02-28T23:59:59.999Z"),
    ],
)
def test_gdpr_extension_runs_two_further_months_from_the_first_periods_end(at: str, first: str, extended: str) -> None:
    first_due = GDPR.due_at(received(at))
    assert clock.iso(first_due) == first
    assert clock.iso(GDPR.extended_due_at(first_due)) == extended


@pytest.mark.parametrize(
    ("at", "first", "extended"),
    [
        ("2026-01-01T08:00:00Z", "2026-02-15T23:59:59.999Z", "2026-04-01T23:59:59.999Z"),
        ("2028-01-15T08:00:00Z", "2028-02-29T23:59:59.999Z", "2028-04-14T23:59:59.999Z"),  # a leap day counts
        ("2026-12-31T23:00:00Z", "2027-02-14T23:59:59.999Z", "2027-03-31T23:59:59.999Z"),
    ],
)
def test_ccpa_is_45_days_plus_45_excluding_the_day_of_receipt(at: str, first: str, extended: str) -> None:
    first_due = CCPA.due_at(received(at))
    assert clock.iso(first_due) == first
    assert clock.iso(CCPA.extended_due_at(first_due)) == extended
    day = jurisdictions.utc_day(received(at))
    assert (CCPA.extended_due_at(first_due).date() - day).days == 90


def test_the_day_is_the_utc_day_whatever_the_offset() -> None:
    late_in_berlin = datetime(2026, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))  # 31 Jan 23:30 UTC
    assert clock.iso(GDPR.due_at(late_in_berlin)) == "2026-02-28T23:59:59.999Z"
    with pytest.raises(ValueError, match="naive"):
        GDPR.due_at(datetime(2026, 1, 1))


def test_the_default_policy_allows_no_extension_and_is_never_later_than_a_law() -> None:
    with pytest.raises(ExtensionNotAllowed, match="default"):
        DEFAULT.extended_due_at(DEFAULT.due_at(received("2026-02-01T00:00:00Z")))
    assert DEFAULT.reasons == ()


def test_periods_and_policies_refuse_what_the_laws_do_not_say() -> None:
    for bad in ({"months": 0, "days": 0}, {"months": 1, "days": 1}, {"days": -1}):
        with pytest.raises(ValueError, match="positive"):
            Period(**bad)
    with pytest.raises(ValueError, match="EXTENSION_REASONS"):
        jurisdictions.Jurisdiction("x", "X", Period(days=1), Period(days=1), ("because",), "nowhere")
    with pytest.raises(ValueError, match="EXTENSION_REASONS"):
        jurisdictions.Jurisdiction("x", "X", Period(days=1), None, ("complexity",), "nowhere")
    assert Period(months=1).describe() == "one month"
    assert Period(days=45).describe() == "45 days"


def test_the_setting_takes_declared_codes_only() -> None:
    assert Settings().jurisdiction == "gdpr"
    assert Settings.from_env({"CUSTODY_JURISDICTION": "ccpa"}).jurisdiction == "ccpa"
    with pytest.raises(ValidationError, match="must be one of"):
        Settings.from_env({"CUSTODY_JURISDICTION": "utopia"})


# --- properties ------------------------------------------------------------------------------

MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC))
POLICIES = st.sampled_from(sorted(JURISDICTIONS.values(), key=lambda item: item.code))
EXTENDABLE = st.sampled_from([GDPR, CCPA])


@given(moment=MOMENTS, policy=POLICIES)
def test_due_after_receipt_at_a_days_end(moment: datetime, policy: jurisdictions.Jurisdiction) -> None:
    due_at = policy.due_at(moment)
    assert due_at > moment
    assert due_at.date() > moment.date()  # the day of receipt is never counted
    assert clock.iso(due_at).endswith("T23:59:59.999Z")
    assert policy.due_at(moment) == due_at  # a pure function of the moment: asking again changes nothing


@given(moment=MOMENTS)
def test_gdpr_due_date_is_the_same_date_next_month_or_that_months_last_day(moment: datetime) -> None:
    day = moment.date()
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    expected = date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    assert GDPR.due_at(moment).date() == expected


@given(moment=MOMENTS, policy=EXTENDABLE)
def test_the_extension_only_moves_the_date_later_and_never_past_the_laws_longest(
    moment: datetime, policy: jurisdictions.Jurisdiction
) -> None:
    first = policy.due_at(moment)
    extended = policy.extended_due_at(first)
    assert extended > first
    assert policy.extension is not None
    # Chained from the first period's end, never later than the whole period counted from receipt.
    whole = Period(months=policy.response.months + policy.extension.months, days=0) if policy.response.months else None
    if whole is not None:
        assert extended.date() <= whole.last_day(moment.date())
    else:
        assert (extended.date() - moment.date()).days == policy.response.days + policy.extension.days


@given(moment=MOMENTS)
def test_no_policy_is_due_later_than_the_default_is_early(moment: datetime) -> None:
    assert DEFAULT.due_at(moment) <= min(GDPR.due_at(moment), CCPA.due_at(moment))


@pytest.mark.parametrize("status", ["received", "in_progress", "failed", "held"])
def test_an_unanswered_request_is_open_and_overdue_once_its_date_passes_held_included(status: str) -> None:
    """A legal hold makes an erasure wait lawfully; it does not answer it (GDPR art. 12(3) runs on)."""
    from custody.deadlines.register import entry_of
    from custody.stores.requests import OPEN_KIND

    item = {
        "request_id": "r",
        "kind": "erasure",
        "subject_id": "s",
        "status": status,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
        "due_at": "2026-02-01T23:59:59.999Z",
        OPEN_KIND: "erasure",
    }
    before = entry_of(item, datetime(2026, 1, 15, tzinfo=UTC))
    after = entry_of(item, datetime(2026, 2, 2, tzinfo=UTC))
    assert (before["open"], before["overdue"]) == (True, False)
    assert (after["open"], after["overdue"]) == (True, True)
