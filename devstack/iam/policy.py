"""Policy statements compiled for evaluation: identity policies and resource policies alike.

`Statement.compile(document_statement)` takes a statement whose intrinsics are already resolved
(plain strings). `Statement.match(principal, request)` says whether it applies, and for a
resource-policy statement how the principal was named: directly (a role ARN, a service, `*`)
or through its account (`arn:aws:iam::<account>:root`), which in AWS delegates to the
account's IAM policies instead of granting anything by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from devstack.iam.conditions import Condition, Context, Unmodelled, compile_conditions
from devstack.iam.patterns import Kind, matches_any


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


class Named(Enum):
    """How a resource-policy statement names the caller."""

    NOT = 0
    THROUGH_ACCOUNT = 1
    DIRECTLY = 2


@dataclass(frozen=True)
class Principal:
    """Who calls: a role (`arn` set) or an AWS service (`service` set)."""

    name: str  # for messages and counts: "function:collect", "service:cloudwatch.amazonaws.com"
    account: str
    arn: str = ""
    service: str = ""


@dataclass(frozen=True)
class Request:
    """One authorization: an action on a resource ARN ("*" for actions without resource types)."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(item) for item in value) if isinstance(value, list) else (str(value),)


@dataclass(frozen=True)
class Statement:
    effect: Effect
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditions: tuple[Condition, ...]
    principals: Mapping[str, tuple[str, ...]] | None  # None: an identity-policy statement
    sid: str = ""

    @classmethod
    def compile(cls, raw: Mapping[str, Any]) -> Statement:
        if "NotPrincipal" in raw:
            raise Unmodelled("NotPrincipal is not modelled by devstack.iam")
        principal = raw.get("Principal")
        principals: dict[str, tuple[str, ...]] | None = None
        if principal is not None:
            principals = {"AWS": ("*",)} if principal == "*" else {k: _strings(v) for k, v in principal.items()}
        return cls(
            effect=Effect(raw["Effect"]),
            actions=_strings(raw.get("Action")),
            not_actions=_strings(raw.get("NotAction")),
            resources=_strings(raw.get("Resource")),
            not_resources=_strings(raw.get("NotResource")),
            conditions=compile_conditions(raw.get("Condition")),
            principals=principals,
            sid=str(raw.get("Sid", "")),
        )

    def names(self, principal: Principal) -> Named:
        if self.principals is None:
            return Named.DIRECTLY
        aws = self.principals.get("AWS", ())
        if "*" in aws:
            return Named.DIRECTLY
        if principal.service:
            return Named.DIRECTLY if principal.service in self.principals.get("Service", ()) else Named.NOT
        if principal.arn in aws:
            return Named.DIRECTLY
        account_root = f"arn:aws:iam::{principal.account}:root"
        return Named.THROUGH_ACCOUNT if account_root in aws or principal.account in aws else Named.NOT

    def covers(self, request: Request) -> bool:
        """Action and resource only (no principal, no conditions)."""
        if self.actions and not matches_any(Kind.ACTION, self.actions, request.action):
            return False
        if self.not_actions and matches_any(Kind.ACTION, self.not_actions, request.action):
            return False
        if self.resources and not matches_any(Kind.ARN, self.resources, request.resource):
            return False
        return not (self.not_resources and matches_any(Kind.ARN, self.not_resources, request.resource))

    def match(self, principal: Principal, request: Request) -> Named:
        """How this statement applies to the request (`Named.NOT`: it does not); may raise `Unmodelled`."""
        if not self.covers(request):
            return Named.NOT
        named = self.names(principal)
        if named is Named.NOT:
            return Named.NOT
        return named if all(condition.holds(request.context) for condition in self.conditions) else Named.NOT


def compile_document(document: Mapping[str, Any]) -> tuple[Statement, ...]:
    raw: Any = document.get("Statement", [])
    statements: Sequence[Mapping[str, Any]] = raw if isinstance(raw, list) else [raw]
    return tuple(Statement.compile(statement) for statement in statements)
