"""Accuracy rules for what customers send: pure functions, no I/O.

Every rule returns a reason a customer can act on and never repeats the value it rejected.
"""

from __future__ import annotations

import re
from datetime import date

# ISO 3166-1 alpha-2, officially assigned codes.
COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 -- a grid of codes reads and diffs better than 249 quoted strings
)

# Postal-code shapes where they are well defined; other countries get a generic check.
POSTAL_CODES: dict[str, re.Pattern[str]] = {
    code: re.compile(pattern)
    for code, pattern in {
        "US": r"\d{5}(-\d{4})?",
        "CA": r"[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d",
        "GB": r"[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}",
        "DE": r"\d{5}",
        "FR": r"\d{5}",
        "IT": r"\d{5}",
        "ES": r"\d{5}",
        "NL": r"\d{4} ?[A-Za-z]{2}",
        "BE": r"\d{4}",
        "AT": r"\d{4}",
        "CH": r"\d{4}",
        "PL": r"\d{2}-\d{3}",
        "PT": r"\d{4}-\d{3}",
        "SE": r"\d{3} ?\d{2}",
        "IE": r"[A-Za-z]\d[\dWw] ?[A-Za-z\d]{4}",
        "JP": r"\d{3}-?\d{4}",
        "VN": r"\d{6}",
        "IN": r"\d{6}",
        "AU": r"\d{4}",
        "BR": r"\d{5}-?\d{3}",
        "SG": r"\d{6}",
    }.items()
}
_GENERIC_POSTAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{1,10}")

E164 = re.compile(r"\+[1-9]\d{6,14}")

# BCP 47: language, optional script, optional region (the forms a CRM needs).
BCP47 = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|\d{3}))?")

# Names: letters of any script, combining marks, spaces, apostrophes, hyphens, periods.
_NAME_CHARS = re.compile(r"[^\W\d_](?:[^\W\d_]|[\u0300-\u036f' .\u2019-])*")

OLDEST_PLAUSIBLE_AGE = 130
YOUNGEST_CUSTOMER_AGE = 16

_CARD_BRANDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("visa", re.compile(r"4\d{12}(\d{3}){0,2}")),
    ("mastercard", re.compile(r"(5[1-5]\d{14}|2(2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)\d{12})")),
    ("amex", re.compile(r"3[47]\d{13}")),
    ("discover", re.compile(r"6(011|5\d\d)\d{12,15}")),
    ("jcb", re.compile(r"35(2[89]|[3-8]\d)\d{12,15}")),
)


def check_name(value: str) -> str:
    """A personal name as given; raises `ValueError` unless it is letters of any script.

    Single spaces, apostrophes, hyphens and periods may stand between letters; digits may not.
    """
    if not _NAME_CHARS.fullmatch(value) or "  " in value:
        raise ValueError("must be letters, with single spaces, apostrophes, hyphens or periods between them")
    return value


def check_phone(value: str) -> str:
    """A phone number as given; raises `ValueError` unless it has the E.164 shape.

    That is `+`, then 7 to 15 digits of which the first (the country code's) is not 0.
    """
    if not E164.fullmatch(value):
        raise ValueError("must be an E.164 number: + then country code and number, 8 to 15 digits")
    return value


def check_country(value: str) -> str:
    """A country code as given; raises `ValueError` unless it is an assigned ISO 3166-1 alpha-2 code in capitals."""
    if value not in COUNTRIES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code in capitals")
    return value


def check_postal_code(country: str, value: str) -> str:
    """A postal code as given; raises `ValueError` when it does not fit `country`'s shape.

    The shape is `POSTAL_CODES`' where one is declared, else 2 to 11 letters, digits, spaces or hyphens.
    """
    pattern = POSTAL_CODES.get(country, _GENERIC_POSTAL)
    if not pattern.fullmatch(value):
        raise ValueError(f"is not a valid postal code for {country}")
    return value


def check_language(value: str) -> str:
    """A language tag as given; raises `ValueError` unless it is a BCP 47 language, optional script and region."""
    if not BCP47.fullmatch(value):
        raise ValueError("must be a BCP 47 language tag such as en, vi or pt-BR")
    return value


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
    """A card number as its digits alone (spaces and hyphens dropped).

    Raises `ValueError` unless that is 12 to 19 ASCII digits passing the Luhn check.
    """
    digits = value.replace(" ", "").replace("-", "")
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
