"""Names as the world writes them (issue 17): every script, its marks, the separators real names use.

A name is letters and marks of any script (Unicode general categories L and M), decided by
category and never by code point ranges; it is stored NFC, so NFC and NFD input are one name,
and its length is counted in characters after NFC.
"""

# Names in every script are this file's subject: their letters look like Latin ones on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import unicodedata

import pytest
from pydantic import ValidationError

from custody.customers.models import Identity
from custody.customers.validation import NAME_REASON, check_name
from custody.platform.text import nfc

# (script, a real name written in it). Each is accepted by the legal name and stored as NFC.
WORLD_NAMES: list[tuple[str, str]] = [
    ("Latin with diacritics", "José Ñúñez Güell"),
    ("Latin, Irish", "Seán Ó Briain"),
    ("Latin, Vietnamese", "Nguyễn Thị Minh Khai"),
    ("Latin, Hawaiian okina", "Kaʻiulani Cleghorn"),
    ("Latin, Catalan l·l", "Jordi Col·lell"),
    ("Latin, initials", "J. R. R. Tolkien"),
    ("Latin, French initials", "J.-P. Sartre"),
    ("Cyrillic", "Анна Каренина"),
    ("Cyrillic, Ukrainian apostrophe", "Мар’яна Ковальчук"),
    ("Greek", "Ελένη Παπαδοπούλου"),
    ("Arabic with harakat", "مُحَمَّد عَلِيّ"),
    ("Arabic", "عبد الله بن زايد"),
    ("Persian with a zero-width non-joiner", "علی\u200cاکبر دهخدا"),
    ("Hebrew with niqqud", "דָּוִד כֹּהֵן"),
    ("Hebrew with geresh and maqaf", "ז׳אן בן־גוריון"),
    ("Devanagari", "अनिल कुमार"),
    ("Bengali", "রবীন্দ্রনাথ ঠাকুর"),
    ("Gurmukhi", "ਗੁਰਮੀਤ ਸਿੰਘ"),
    ("Gujarati", "મોહનદાસ ગાંધી"),
    ("Tamil", "சுப்பிரமணிய பாரதி"),
    ("Telugu", "వెంకట రమణ"),
    ("Kannada", "ಕುವೆಂಪು"),
    ("Malayalam, chillu with a zero-width joiner", "ശ്രീധരന്\u200d നായര്\u200d"),
    ("Sinhala", "කුමාර සංගක්කාර"),
    ("Thai", "สมชาย ใจดี"),
    ("Lao", "ສົມພອນ ແກ້ວມະນີ"),
    ("Khmer", "សុខ សុភា"),
    ("Myanmar", "အောင်ဆန်းစုကြည်"),
    ("Tibetan with tsheg", "བསྟན་འཛིན་རྒྱ་མཚོ"),
    ("Georgian", "ნინო ბერიძე"),
    ("Armenian", "Արամ Խաչատրյան"),
    ("Ethiopic", "አበበ ቢቂላ"),
    ("Han", "王小明"),
    ("Han, transcribed foreign name", "约翰·史密斯"),
    ("Hiragana", "やまだ たろう"),
    ("Katakana with middle dot and prolonged sound mark", "ジョン・スミスー"),
    ("Kanji with iteration mark", "佐々木 希"),
    ("Kanji with an ideographic space", "山田\u3000太郎"),
    ("Hangul", "김민준"),
    ("Mongolian Cyrillic", "Батболд Дорж"),
    ("Cherokee", "ᏌᏊ ᎤᏍᏗ"),
]
MONONYMS = ["Suharto", "Björk", "ಕುವೆಂಪು", "Teller", "王", "Ñ"]

# Not names: digits, symbols, markup, controls, separators where no name has them.
NOT_NAMES = [
    "R2-D2",
    "Ann  Lee",
    "<script>",
    "Ann\u0000Lee",
    "Ann\nLee",
    "@nn",
    "Ann_Lee",
    "-Ann",
    "Ann-",
    "Ann--Lee",
    "'Ann",
    "\u0301Ann",
    "Ann \u0301Lee",
    "अनिल ४",
    "Ann\u202eLee",
    "Ann\U0001f600",
    "\u200dAnn",
    "Ann, Jr.",
]


@pytest.mark.parametrize(("script", "name"), WORLD_NAMES, ids=[script for script, _ in WORLD_NAMES])
def test_a_real_name_in_every_script_is_accepted_and_stored_nfc(script: str, name: str) -> None:
    identity = Identity.model_validate({"legal_name": name})
    assert identity.legal_name == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize(("script", "name"), WORLD_NAMES, ids=[script for script, _ in WORLD_NAMES])
def test_nfc_and_nfd_input_are_one_name(script: str, name: str) -> None:
    composed = Identity.model_validate({"legal_name": unicodedata.normalize("NFC", name)})
    decomposed = Identity.model_validate({"legal_name": unicodedata.normalize("NFD", name)})
    assert composed == decomposed


def test_the_table_covers_twenty_scripts() -> None:
    assert len({script.split(",")[0].split(" with")[0] for script, _ in WORLD_NAMES}) >= 20


@pytest.mark.parametrize("name", MONONYMS)
def test_mononyms_are_names(name: str) -> None:
    assert Identity.model_validate({"legal_name": name, "preferred_name": name}).legal_name == name


@pytest.mark.parametrize("value", NOT_NAMES)
def test_what_is_not_a_name_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Identity.model_validate({"legal_name": value})
    (error,) = refused.value.errors(include_input=False)
    assert error["loc"] == ("legal_name",)
    assert value.strip() not in str(error["msg"])


def test_the_length_limit_counts_characters_after_nfc() -> None:
    """120 characters: an NFD name of 240 code points is the same 120-character NFC name."""
    name = "é" * 120
    decomposed = unicodedata.normalize("NFD", name)
    assert len(decomposed) == 240
    assert Identity.model_validate({"legal_name": decomposed}).legal_name == name
    assert len(("अ" * 120).encode()) == 360  # characters, not bytes
    Identity.model_validate({"legal_name": "अ" * 120})
    with pytest.raises(ValidationError):
        Identity.model_validate({"legal_name": "é" * 121})


def test_check_name_says_why_in_words() -> None:
    with pytest.raises(ValueError, match="letters of any script") as refused:
        check_name("R2-D2")
    assert str(refused.value) == NAME_REASON
    assert nfc(7) == 7  # anything but a string is left for its type's own check
