"""Legal holds and statutory retention, as declared: the periods, the dates, the hold's validation (no AWS)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.audit import grammar
from custody.declared import datamap, holds, retention
from custody.declared.errors import InvalidInput
from custody.declared.settings import Settings
from custody.staff_access.grants import TICKET
from custody.staff_access.holds import check_hold

TODAY = date(2026, 12, 7)
JURISDICTIONS = ("gdpr", "de", "fr", "vn", "xx")


def test_every_obligation_is_kept_by_some_category_and_cites_its_basis_and_sources() -> None:
    for obligation in datamap.OBLIGATIONS.values():
        assert datamap.categories_under(obligation.name), obligation.name
        assert "6(1)(c)" in obligation.legal_basis
        assert "17(3)(b)" in obligation.legal_basis
        for period in (obligation.default, *obligation.jurisdictions.values()):
            assert period.years >= 1
            assert period.source
        assert obligation.key_version == datamap.RETAINED_KEY_PREFIX + obligation.name
    for category in datamap.retained_categories():
        assert category.obligation in datamap.OBLIGATIONS
        assert category.sensitivity is datamap.Sensitivity.PERSONAL  # never card or health data
        assert datamap.store(category.store).ttl_attribute  # type: ignore[union-attr]
        # A category kept past a full erasure lives in a store of its own: one key seals the whole store.
        assert datamap.key_version_of_store(category.store) == datamap.obligation(category.obligation).key_version


def test_a_purpose_withdrawal_never_erases_what_an_obligation_keeps() -> None:
    for category in datamap.retained_categories():
        assert category not in datamap.unjustified_categories(frozenset())


@given(
    recorded=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)), where=st.sampled_from(JURISDICTIONS)
)
def test_an_obligation_keeps_a_record_its_full_period_and_not_a_year_more(recorded: date, where: str) -> None:
    for obligation in datamap.OBLIGATIONS.values():
        period = obligation.period(where)
        last = retention.obligation_ends(obligation, where, recorded)
        assert last >= retention.add_years(recorded, period.years)  # never shorter than the law's period
        assert last < retention.add_years(recorded, period.years + 1)  # counted from the year's end at most
        if period.from_year_end:
            assert (last.month, last.day) == (12, 31)
        assert retention.end_of_day(last).date() == last + timedelta(days=1)


def test_a_jurisdiction_without_a_period_of_its_own_takes_the_default() -> None:
    for obligation in datamap.OBLIGATIONS.values():
        assert obligation.period("xx") == obligation.default
        assert obligation.period(Settings().jurisdiction) == obligation.default
        assert obligation.default.years >= max(period.years for period in obligation.jurisdictions.values())


@pytest.mark.parametrize(
    ("received", "due"),
    [("2026-01-31", "2026-02-28"), ("2026-12-07", "2027-01-07"), ("2028-01-31", "2028-02-29")],
)
def test_the_response_is_due_a_calendar_month_after_receipt(received: str, due: str) -> None:
    moment = retention.end_of_day(date.fromisoformat(received)) - timedelta(hours=1)
    assert retention.response_due(moment).date().isoformat() == due


@given(
    reason_code=st.one_of(st.sampled_from(sorted(holds.REASONS)), st.text(max_size=40)),
    ticket=st.one_of(st.just("LEG-1234"), st.text(max_size=24)),
    offset=st.integers(min_value=-5_000, max_value=5_000),
)
def test_a_hold_is_valid_exactly_for_a_declared_code_a_ticket_and_a_day_in_range(
    reason_code: str, ticket: str, offset: int
) -> None:
    """The class of inputs `check_hold` admits; the route answers anything else 422 and writes nothing."""
    until = TODAY + timedelta(days=offset)
    valid = reason_code in holds.REASONS and bool(TICKET.fullmatch(ticket)) and 0 <= offset <= holds.MAX_HOLD_DAYS
    try:
        check_hold(reason_code, ticket, until, TODAY)
    except InvalidInput as error:
        assert not valid
        fields = {problem["field"] for problem in error.details["fields"]}
        assert fields <= {"reason_code", "ticket", "until"}
    else:
        assert valid


def test_the_ledger_admits_a_hold_and_an_obligation_by_declared_name_and_day_only() -> None:
    admitted = [
        "legal_hold/dispute:2027-06-30",
        f"obligation/{datamap.TAX_RECORDS}:2036-12-31",
        "invoice/2026-12-07T10:06:43.123Z#6f1c2b8e-1d3a-4e6f-9a1b-2c3d4e5f6a7b",
        f"grant/6f1c2b8e-1d3a-4e6f-9a1b-2c3d4e5f6a7b:{datamap.LEGAL_OBLIGATION}",
    ]
    refused = [
        "legal_hold/the customer sued us:2027-06-30",
        "legal_hold/dispute:someday",
        "legal_hold/dispute:2027-02-30",
        "obligation/tax_records",
        "obligation/anything:2036-12-31",
    ]
    for target in admitted:
        assert grammar.is_target(target, None), target
    for target in refused:
        assert not grammar.is_target(target, None), target
    assert json.dumps(sorted(holds.REASONS))
