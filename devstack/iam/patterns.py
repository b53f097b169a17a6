"""Wildcard matching as IAM does it: actions, ARNs (`Resource`, `ArnLike`) and strings (`StringLike`).

* Actions (`dynamodb:Get*`): `*` and `?` anywhere, case-insensitive.
* ARNs: `*` and `?` within a colon-separated segment; a `*` that ends a segment may run on
  across colons (IAM user guide, "Using wildcards in resource ARNs"); `*` alone matches
  everything, `"*"` included (the resource of an action with no resource-level permissions).
* Strings: `*` and `?` anywhere, case-sensitive.

Each pattern compiles to one regular expression, cached: `matcher(kind, pattern)(value) -> bool`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from functools import lru_cache

Matcher = Callable[[str], bool]


class Kind(Enum):
    ACTION = "action"
    ARN = "arn"
    STRING = "string"


def _glob(pattern: str, star: str, question: str) -> str:
    return "".join(star if char == "*" else question if char == "?" else re.escape(char) for char in pattern)


def _arn_regex(pattern: str) -> str:
    parts: list[str] = []
    for index, char in enumerate(pattern):
        if char == "*":
            ends_segment = index + 1 == len(pattern) or pattern[index + 1] == ":"
            parts.append(".*" if ends_segment else "[^:]*")
        elif char == "?":
            parts.append("[^:]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


@lru_cache(maxsize=4096)
def matcher(kind: Kind, pattern: str) -> Matcher:
    """A predicate for values matching `pattern`; raises nothing (every string is a pattern)."""
    if pattern == "*":
        return lambda _value: True
    if kind is Kind.ACTION:
        compiled = re.compile(_glob(pattern, ".*", "."), re.IGNORECASE | re.DOTALL)
    elif kind is Kind.ARN:
        compiled = re.compile(_arn_regex(pattern), re.DOTALL)
    else:
        compiled = re.compile(_glob(pattern, ".*", "."), re.DOTALL)
    return lambda value: compiled.fullmatch(value) is not None


def matches_any(kind: Kind, patterns: tuple[str, ...], value: str) -> bool:
    return any(matcher(kind, pattern)(value) for pattern in patterns)
