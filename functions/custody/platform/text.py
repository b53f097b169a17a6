"""Free text a person typed: what any text field of the API accepts, and how it is stored.

A free-text field (an address line, an interest, a health condition, a staff summary, a reason)
holds letters, marks, numbers, punctuation, symbols and spaces of any script, stored in Unicode
normalization form C (Unicode Standard Annex #15), so text typed composed or decomposed is
stored, measured and compared as one. It refuses what no person types into a form and what
turns stored text into a trap for whoever reads it later:

* control characters (Unicode category Cc: NUL, ESC and ANSI sequences, CR/LF that would split a
  header or a log line); a multi-line field (`Lines`) allows line feed and tab;
* bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which make
  text display in another order than it is stored (Unicode Technical Report #36, "Bidirectional
  Text Spoofing");
* surrogates and the 66 noncharacters (U+FDD0-U+FDEF and the last two code points of each
  plane), which are no characters at all; unassigned code points are not refused, since a newer
  Unicode version than this runtime's may assign them;
* text with nothing visible: only spaces, format characters or fillers (e.g. U+200B, U+3164).

Zero-width joiners and non-joiners stay allowed: scripts such as Devanagari, Persian and emoji
sequences need them. Refusals name the reason, never the value.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator

BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS: Final = frozenset("\n\t")
# Hangul fillers: letters (Lo) by category that render as nothing.
FILLERS: Final = frozenset("\u115f\u1160\u3164\uffa0")
_INVISIBLE_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp", "Cf", "Mn", "Me"})

CONTROL_REASON: Final = "must not contain control characters"
BIDI_REASON: Final = "must not contain bidirectional override or isolate characters"
NOT_CHARACTER_REASON: Final = "must contain only Unicode characters (no surrogates or noncharacters)"
INVISIBLE_REASON: Final = "must contain a visible character"


def nfc(value: object) -> object:
    """A string in Unicode normalization form C (anything else unchanged, for its type's own check)."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def check_text(value: str, *, multiline: bool = False) -> str:
    """`value` if a person could have typed it into a text field, else `ValueError` naming why.

    `multiline` allows line feeds and tabs. Raises `ValueError` with one of this module's
    `*_REASON` messages: a control character, a bidirectional control, a surrogate or
    noncharacter, or no visible character at all.
    """
    visible = False
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" and not (multiline and char in LINE_BREAKS):
            raise ValueError(CONTROL_REASON)
        if char in BIDI_CONTROLS:
            raise ValueError(BIDI_REASON)
        if category == "Cs" or _is_noncharacter(char):
            raise ValueError(NOT_CHARACTER_REASON)
        if category not in _INVISIBLE_CATEGORIES and char not in FILLERS and char not in LINE_BREAKS:
            visible = True
    if value and not visible:
        raise ValueError(INVISIBLE_REASON)
    return value


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _check_lines(value: str) -> str:
    return check_text(value, multiline=True)


Text = Annotated[str, BeforeValidator(nfc), AfterValidator(check_text)]
"""One line of free text (pydantic type): NFC-normalised, checked by `check_text`. Add a `Field` for its lengths."""

Lines = Annotated[str, BeforeValidator(nfc), AfterValidator(_check_lines)]
"""Free text of several lines (pydantic type): as `Text`, line feeds and tabs allowed."""
