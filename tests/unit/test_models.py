"""Each accuracy rule with a value it accepts and one it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from custody.customers.models import Profile
from custody.customers.validation import card_brand, check_birth_date

TODAY = datetime.now(UTC).date()
NEXT_YEAR = TODAY.year + 1


def _years_ago(years: int) -> str:
    return TODAY.replace(year=TODAY.year - years, day=min(TODAY.day, 28)).isoformat()


ADDRESS = {"line1": "1 Main St", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"}
CARD = {"card_number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": NEXT_YEAR, "holder_name": "Ann Lee"}

# (category, good value, bad value, the field the error must name)
RULES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("identity", {"legal_name": "Nguyễn Văn An"}, {"legal_name": "R2-D2"}, "identity.legal_name"),
    ("identity", {"legal_name": "Ann O'Brien-Lee"}, {"legal_name": "Ann  Lee"}, "identity.legal_name"),
    ("identity", {"legal_name": "Ann"}, {"legal_name": "A" * 121}, "identity.legal_name"),
    ("identity", {"preferred_name": "Annie"}, {"preferred_name": "<script>"}, "identity.preferred_name"),
    (
        "identity",
        {"birth_date": _years_ago(40)},
        {"birth_date": (TODAY + timedelta(days=1)).isoformat()},
        "identity.birth_date",
    ),
    ("identity", {"birth_date": _years_ago(129)}, {"birth_date": _years_ago(131)}, "identity.birth_date"),
    ("identity", {"birth_date": _years_ago(17)}, {"birth_date": _years_ago(10)}, "identity.birth_date"),
    ("identity", {"birth_date": "1990-02-28"}, {"birth_date": "1990-02-30"}, "identity.birth_date"),
    ("contact", {"phone": "+84912345678"}, {"phone": "0912345678"}, "contact.phone"),
    ("contact", {"phone": "+1 415 555 0123"}, {"phone": "+1 415 555 01"}, "contact.phone"),
    ("contact", {"phone": "+1 (415) 555-0123"}, {"phone": "+1 415 555 0123 ext. 12"}, "contact.phone"),
    ("contact", {"phone": "tel:+84-91-234-5678"}, {"phone": "+999 1234567"}, "contact.phone"),
    ("contact", {"address": ADDRESS}, {"address": {**ADDRESS, "country": "XX"}}, "contact.address.country"),
    ("contact", {"address": ADDRESS}, {"address": {**ADDRESS, "country": "us"}}, "contact.address.country"),
    ("contact", {"address": ADDRESS}, {"address": {**ADDRESS, "postal_code": "1234"}}, "contact.address.postal_code"),
    # A ZIP code must fit its state too: 10001 is New York's.
    ("contact", {"address": ADDRESS}, {"address": {**ADDRESS, "postal_code": "10001"}}, "contact.address.postal_code"),
    ("contact", {"address": ADDRESS}, {"address": {**ADDRESS, "region": None}}, "contact.address.region"),
    ("contact", {"address": ADDRESS}, {"address": {**ADDRESS, "region": "Ontario"}}, "contact.address.region"),
    (
        "contact",
        {"address": {**ADDRESS, "region": None, "country": "GB", "postal_code": "SW1A 1AA", "city": "London"}},
        {"address": {**ADDRESS, "region": None, "country": "GB", "postal_code": "12345", "city": "London"}},
        "contact.address.postal_code",
    ),
    (
        "contact",
        {"address": {**ADDRESS, "region": None, "country": "VN", "postal_code": "70010", "city": "Hồ Chí Minh"}},
        {"address": {**ADDRESS, "region": None, "country": "VN", "postal_code": "7000", "city": "Hồ Chí Minh"}},
        "contact.address.postal_code",
    ),
    # Japanese addresses have no city line (it is part of the street lines): refused, not dropped.
    (
        "contact",
        {"address": {"line1": "1-2-3 Setagaya", "region": "Tokyo", "postal_code": "154-0023", "country": "JP"}},
        {"address": {**ADDRESS, "region": "Tokyo", "postal_code": "154-0023", "country": "JP"}},
        "contact.address.city",
    ),
    # Hong Kong has no postal codes.
    (
        "contact",
        {"address": {"line1": "1 Nathan Road", "region": "Kowloon", "country": "HK"}},
        {"address": {"line1": "1 Nathan Road", "region": "Kowloon", "postal_code": "999077", "country": "HK"}},
        "contact.address.postal_code",
    ),
    ("contact", {"address": ADDRESS}, {"address": {**ADDRESS, "line1": ""}}, "contact.address.line1"),
    ("preferences", {"language": "pt-BR"}, {"language": "portuguese!"}, "preferences.language"),
    ("preferences", {"language": "zh-Hant-TW"}, {"language": "e"}, "preferences.language"),
    ("preferences", {"language": "es-419"}, {"language": "xx-US"}, "preferences.language"),
    ("preferences", {"channels": ["email", "sms"]}, {"channels": ["pigeon"]}, "preferences.channels.0"),
    ("preferences", {"channels": ["email"]}, {"channels": ["email", "email"]}, "preferences.channels"),
    ("preferences", {"interests": ["cycling"]}, {"interests": ["x"] * 21}, "preferences.interests"),
    ("payment", CARD, {**CARD, "card_number": "4111 1111 1111 1112"}, "payment.card_number"),
    ("payment", CARD, {**CARD, "card_number": "4111-1111-abcd-1111"}, "payment.card_number"),
    ("payment", CARD, {**CARD, "expiry_month": 13}, "payment.expiry_month"),
    ("payment", CARD, {**CARD, "expiry_year": TODAY.year - 1}, "payment"),
    ("payment", CARD, {**CARD, "holder_name": "4111"}, "payment.holder_name"),
    (
        "health",
        {"conditions": [{"name": "Type 2 diabetes", "code": "E11.9", "since": "2019-05-01"}]},
        {"conditions": [{"name": "Type 2 diabetes", "code": "diabetes"}]},
        "health.conditions.0.code",
    ),
    (
        "health",
        {"allergies": [{"substance": "Penicillin", "severity": "severe"}]},
        {"allergies": [{"substance": "Penicillin", "severity": "deadly"}]},
        "health.allergies.0.severity",
    ),
    (
        "health",
        {"conditions": [{"name": "Asthma"}]},
        {"conditions": [{"name": "Asthma", "since": (TODAY + timedelta(days=30)).isoformat()}]},
        "health.conditions.0.since",
    ),
]


def _field(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"])


@pytest.mark.parametrize(("category", "good", "bad", "field"), RULES)
def test_rule_accepts_the_good_value_and_names_the_field_of_the_bad(
    category: str, good: dict[str, Any], bad: dict[str, Any], field: str
) -> None:
    Profile.model_validate({category: good})
    with pytest.raises(ValidationError) as refused:
        Profile.model_validate({category: bad})
    assert field in {_field(error) for error in refused.value.errors()}


def test_unknown_fields_and_categories_are_refused() -> None:
    with pytest.raises(ValidationError):
        Profile.model_validate({"identity": {"legal_name": "Ann", "shoe_size": 42}})
    with pytest.raises(ValidationError):
        Profile.model_validate({"religion": {"value": "x"}})


def test_card_number_is_normalised_and_branded() -> None:
    payment = Profile.model_validate({"payment": CARD}).payment
    assert payment is not None
    assert payment.card_number == "4111111111111111"
    assert card_brand("5555555555554444") == "mastercard"
    assert card_brand("378282246310005") == "amex"
    assert card_brand("6011111111111117") == "discover"


def test_a_card_expiring_this_month_is_still_valid() -> None:
    Profile.model_validate({"payment": {**CARD, "expiry_month": TODAY.month, "expiry_year": TODAY.year}})


def test_required_fields_are_reported_for_a_complete_category() -> None:
    profile = Profile.model_validate({"identity": {"preferred_name": "Annie"}, "payment": {"holder_name": "Ann"}})
    assert profile.identity is not None
    assert profile.identity.missing() == ["legal_name"]
    assert profile.payment is not None
    assert profile.payment.missing() == ["card_number", "expiry_month", "expiry_year"]
    assert Profile.model_validate({"contact": {}}).contact.missing() == ["phone|address"]  # type: ignore[union-attr]


def test_categories_lists_only_what_was_sent() -> None:
    assert set(Profile.model_validate({"identity": {"legal_name": "Ann"}}).categories()) == {"identity"}


def test_the_youngest_customer_becomes_eligible_on_their_birthday() -> None:
    today = date(2026, 11, 28)
    check_birth_date(date(2010, 11, 28), today)
    with pytest.raises(ValueError, match="at least 16"):
        check_birth_date(date(2010, 11, 29), today)
