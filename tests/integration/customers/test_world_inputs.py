"""Customers from several countries, through the collect and subject_access handlers (issue 17).

The cases the issue reported, as regression tests (each failed before the validators were the
libraries'): digits of other scripts were stored verbatim, and real names in Devanagari, Tamil,
Thai and Arabic with vowel marks were refused. Digits a person types are stored as ASCII; a
language tag, which a program writes, must be ASCII; names are stored NFC.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from tests.integration.customers.conftest import Customer, call, grant

US = {"line1": "1 Demo Street", "city": "Springfield", "region": "IL", "country": "US"}


def _stored(customer: Customer, category: str) -> dict[str, Any]:
    report = call("subject_access", "GET", "/v1/me", customer)
    assert report.status == 200, report.raw
    categories: dict[str, dict[str, Any]] = report.body["stores"]["profiles"]["categories"]
    return categories[category]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+1\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0662\u0663", "+14155550123"),  # Arabic-Indic
        ("+1\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13", "+14155550123"),  # full width
        ("+1 (415) 555-0123", "+14155550123"),
        ("+84 91 234 56 78", "+84912345678"),
    ],
    ids=["arabic-indic", "full-width", "formatted", "vietnam"],
)
def test_a_phone_typed_in_any_digits_is_stored_as_e164(customer: Customer, typed: str, stored: str) -> None:
    grant(customer, "crm_core")
    reply = call("collect", "PUT", "/v1/me/profile", customer, {"contact": {"phone": typed}})
    assert reply.status == 200, reply.raw
    assert reply.body["categories"]["contact"] == {"phone": stored}
    assert _stored(customer, "contact") == {"phone": stored}


@pytest.mark.parametrize(
    "typed",
    ["\uff16\uff12\uff17\uff10\uff11", "\u0666\u0662\u0667\u0660\u0661", "\u096c\u0968\u096d\u0966\u0967"],
    ids=["full-width", "arabic-indic", "devanagari"],
)
def test_a_us_postal_code_typed_in_any_digits_is_stored_in_ascii(customer: Customer, typed: str) -> None:
    grant(customer, "crm_core")
    reply = call("collect", "PUT", "/v1/me/profile", customer, {"contact": {"address": {**US, "postal_code": typed}}})
    assert reply.status == 200, reply.raw
    assert _stored(customer, "contact")["address"]["postal_code"] == "62701"


@pytest.mark.parametrize(
    "typed", ["es-\u0664\u0661\u0669", "es-\uff14\uff11\uff19", "en-\u0968\u0966\u0966"], ids=["arabic", "fw", "deva"]
)
def test_a_language_tag_with_digits_of_another_script_is_refused_and_not_stored(customer: Customer, typed: str) -> None:
    grant(customer, "crm_core", "marketing")
    reply = call("collect", "PUT", "/v1/me/profile", customer, {"preferences": {"language": typed}})
    assert (reply.status, reply.body["error"]) == (422, "invalid_input"), reply.raw
    assert reply.body["details"]["fields"][0]["field"] == "preferences.language"
    assert typed not in reply.raw
    assert (
        "preferences" not in call("subject_access", "GET", "/v1/me", customer).body["stores"]["profiles"]["categories"]
    )


def test_a_language_tag_is_stored_standardized(customer: Customer) -> None:
    grant(customer, "crm_core", "marketing")
    reply = call("collect", "PUT", "/v1/me/profile", customer, {"preferences": {"language": "PT_br"}})
    assert reply.status == 200, reply.raw
    assert _stored(customer, "preferences") == {"language": "pt-BR"}


@pytest.mark.parametrize(
    "name",
    ["अनिल कुमार", "சுப்பிரமணிய பாரதி", "สมชาย ใจดี", "مُحَمَّد عَلِيّ", "דָּוִד כֹּהֵן", "ស៊ុន សុភា"],
    ids=["devanagari", "tamil", "thai", "arabic-harakat", "hebrew-niqqud", "khmer"],
)
def test_a_real_legal_name_in_its_own_script_is_accepted(customer: Customer, name: str) -> None:
    grant(customer, "crm_core")
    reply = call("collect", "PUT", "/v1/me/profile", customer, {"identity": {"legal_name": name}})
    assert reply.status == 200, reply.raw
    assert _stored(customer, "identity") == {"legal_name": unicodedata.normalize("NFC", name)}


def test_a_name_sent_in_nfd_is_the_same_verified_name(customer: Customer) -> None:
    """NFC and NFD input compare equal: re-sending the verified legal name decomposed is no change."""
    grant(customer, "crm_core")
    name = "Nguyễn Văn An"
    assert call("collect", "PUT", "/v1/me/profile", customer, {"identity": {"legal_name": name}}).status == 200
    again = {"identity": {"legal_name": unicodedata.normalize("NFD", name)}}
    reply = call("collect", "PUT", "/v1/me/profile", customer, again)
    assert reply.status == 200, reply.raw
    assert _stored(customer, "identity") == {"legal_name": name}


def test_a_change_request_for_a_legal_name_takes_any_script(customer: Customer) -> None:
    grant(customer, "crm_core")
    assert call("collect", "PUT", "/v1/me/profile", customer, {"identity": {"legal_name": "Anil Kumar"}}).status == 200
    body = {"field": "legal_name", "value": "अनिल कुमार", "reason": "my name in Devanagari"}
    reply = call("subject_access", "POST", "/v1/me/change-requests", customer, body)
    assert reply.status == 201, reply.raw


def test_an_address_field_its_country_refuses_is_named_and_nothing_is_written(customer: Customer) -> None:
    grant(customer, "crm_core")
    wrong_state = {"contact": {"address": {**US, "postal_code": "10001"}}}  # a New York ZIP code in Illinois
    reply = call("collect", "PUT", "/v1/me/profile", customer, wrong_state)
    assert (reply.status, reply.body["error"]) == (422, "invalid_input"), reply.raw
    assert [item["field"] for item in reply.body["details"]["fields"]] == ["contact.address.postal_code"]
    assert "10001" not in reply.raw
    assert call("subject_access", "GET", "/v1/me", customer).body["stores"]["profiles"]["categories"] == {}


def test_a_region_is_stored_as_the_postal_datas_choice_in_the_script_typed(customer: Customer) -> None:
    grant(customer, "crm_core")
    address = {"line1": "1-2-3 Setagaya", "region": "tokyo", "postal_code": "154-0023", "country": "JP"}
    reply = call("collect", "PUT", "/v1/me/profile", customer, {"contact": {"address": address}})
    assert reply.status == 200, reply.raw
    assert _stored(customer, "contact")["address"]["region"] == "Tokyo"
    address = {"line1": "世田谷1-2-3", "region": "東京都", "postal_code": "154-0023", "country": "JP"}
    reply = call("collect", "PUT", "/v1/me/profile", customer, {"contact": {"address": address}})
    assert reply.status == 200, reply.raw
    assert _stored(customer, "contact")["address"]["region"] == "東京都"
