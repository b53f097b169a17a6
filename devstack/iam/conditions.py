"""IAM condition operators, for the keys this stack's policies use.

A policy's `Condition` block compiles to `Condition`s (one per operator and key); a statement
applies when all of them hold (IAM user guide, "Condition element": AND across operators and
keys, OR across the values of one key). Semantics modelled:

* String (`StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`, `StringLike`,
  `StringNotLike`), ARN (`ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike`), `Bool`,
  numeric (`NumericEquals`, `NumericLessThan`, ...) and `Null`;
* the `...IfExists` suffix and the `ForAnyValue:` / `ForAllValues:` set prefixes;
* a key missing from the request: the condition is false, except for the negated operators
  (true), `...IfExists` (true) and `Null`.

Anything else, an operator or a condition key this module does not know how the request
would carry, raises `Unmodelled` when the statement is evaluated: the caller fails closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from devstack.iam.patterns import Kind, matcher

Context = Mapping[str, str | tuple[str, ...]]  # lower-cased condition key -> value(s)


class Unmodelled(Exception):
    """A policy uses an operator or key devstack.iam cannot evaluate faithfully."""


# The keys a request here can carry (lower case); `kms:encryptioncontext:` is a prefix.
KNOWN_KEYS: Final = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:securetransport",
        "aws:sourcearn",
        "aws:sourceaccount",
        "dynamodb:attributes",
        "dynamodb:leadingkeys",
        "kms:viaservice",
        "kms:calleraccount",
        "s3:prefix",
        "s3:tlsversion",
        "s3:x-amz-acl",
    }
)
KNOWN_PREFIXES: Final = ("kms:encryptioncontext:",)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise Unmodelled(f"not a number: {value!r}") from None


_Compare = Callable[[str, str], bool]
_POSITIVE: Final[dict[str, _Compare]] = {
    "StringEquals": lambda actual, wanted: actual == wanted,
    "StringEqualsIgnoreCase": lambda actual, wanted: actual.lower() == wanted.lower(),
    "StringLike": lambda actual, wanted: matcher(Kind.STRING, wanted)(actual),
    "ArnEquals": lambda actual, wanted: matcher(Kind.ARN, wanted)(actual),
    "ArnLike": lambda actual, wanted: matcher(Kind.ARN, wanted)(actual),
    "Bool": lambda actual, wanted: actual.lower() == wanted.lower(),
    "NumericEquals": lambda actual, wanted: _number(actual) == _number(wanted),
    "NumericLessThan": lambda actual, wanted: _number(actual) < _number(wanted),
    "NumericLessThanEquals": lambda actual, wanted: _number(actual) <= _number(wanted),
    "NumericGreaterThan": lambda actual, wanted: _number(actual) > _number(wanted),
    "NumericGreaterThanEquals": lambda actual, wanted: _number(actual) >= _number(wanted),
}
_NEGATED: Final = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def known_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in KNOWN_KEYS or lowered.startswith(KNOWN_PREFIXES)


@dataclass(frozen=True)
class Condition:
    """One operator applied to one key: `{"StringLike": {"s3:prefix": ["subjects/*"]}}` is one."""

    operator: str  # as written, e.g. "ForAnyValue:StringEqualsIfExists"
    key: str  # lower case
    values: tuple[str, ...]

    def holds(self, context: Context) -> bool:
        """Raises `Unmodelled` for an operator or key this module does not evaluate."""
        if not known_key(self.key):
            raise Unmodelled(f"condition key {self.key!r} is not modelled by devstack.iam")
        qualifier, _, operator = self.operator.rpartition(":")
        if qualifier not in ("", "ForAnyValue", "ForAllValues"):
            raise Unmodelled(f"condition operator {self.operator!r} is not modelled by devstack.iam")
        if_exists = operator.endswith("IfExists") and operator != "IfExists"
        base = operator.removesuffix("IfExists") if if_exists else operator
        found = context.get(self.key)
        if base == "Null":
            absent = found is None
            return all((value.lower() == "true") == absent for value in self.values)
        negated = base in _NEGATED
        compare = _POSITIVE.get(_NEGATED.get(base, base))
        if compare is None:
            raise Unmodelled(f"condition operator {self.operator!r} is not modelled by devstack.iam")
        if found is None:
            return if_exists or negated or qualifier == "ForAllValues"
        actuals = found if isinstance(found, tuple) else (found,)
        if isinstance(found, tuple) and not qualifier:
            raise Unmodelled(f"multi-valued key {self.key!r} needs ForAnyValue or ForAllValues")

        def one(actual: str) -> bool:
            hit = any(compare(actual, wanted) for wanted in self.values)
            return not hit if negated else hit

        return all(one(actual) for actual in actuals) if qualifier == "ForAllValues" else any(map(one, actuals))


def compile_conditions(block: Mapping[str, Mapping[str, Any]] | None) -> tuple[Condition, ...]:
    """`{"StringEquals": {"kms:ViaService": [...]}}` -> Conditions; values become strings."""
    if not block:
        return ()
    compiled = []
    for operator, keys in block.items():
        for key, values in keys.items():
            listed = values if isinstance(values, list) else [values]
            compiled.append(Condition(operator, key.lower(), tuple(_text(value) for value in listed)))
    return tuple(compiled)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
