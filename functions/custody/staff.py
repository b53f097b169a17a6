"""Who is calling a staff or sub-processor route, and the audit trail of what they were refused.

A staff member is the staff pool's ID token: `sub` and `cognito:groups`. A sub-processor is a
machine client of the processor pool: its access token's `sub` (the app client in AWS).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from custody.audit import AuditLedger, refusal_chain
from custody.errors import CustodyError, Unauthenticated
from custody.ledger_grammar import RegisteredProcessor, is_target
from custody.settings import Settings

PRIVACY_OFFICER: Final = "privacy_officer"
STAFF_FUNCTION: Final = "staff"  # the catalog function that serves the staff routes
PROCESSORS_FUNCTION: Final = "processors"  # and the one that serves the sub-processor routes
REFUSED: Final = "refused"
_GROUP_SEPARATORS = re.compile(r"[\s,\[\]]+")


@dataclass(frozen=True)
class StaffMember:
    staff_id: str
    groups: frozenset[str]

    @property
    def actor(self) -> str:
        return f"staff/{self.staff_id}"

    @property
    def is_privacy_officer(self) -> bool:
        return PRIVACY_OFFICER in self.groups


def staff_member(claims: Mapping[str, Any]) -> StaffMember:
    subject = claims.get("sub")
    if not subject:
        raise Unauthenticated("The token carries no subject.")
    raw = claims.get("cognito:groups") or ""
    groups = raw if isinstance(raw, list) else _GROUP_SEPARATORS.split(str(raw))
    return StaffMember(str(subject), frozenset(str(group) for group in groups if group))


def processor_principal(claims: Mapping[str, Any]) -> str:
    """The machine identity of a sub-processor: its access token's `sub`."""
    subject = claims.get("sub")
    if not subject:
        raise Unauthenticated("The token carries no subject.")
    return str(subject)


def categories_count(categories: tuple[str, ...] | list[str]) -> dict[str, int]:
    """Category names as audit counts: the ledger holds names and numbers, never values."""
    return dict.fromkeys(sorted(categories), 1)


@contextmanager
def audited_refusals(
    settings: Settings,
    *,
    function: str,
    step: str,
    target: str,
    actor: str,
    subject_id: str | None = None,
    chain_id: str | None = None,
    processor: RegisteredProcessor | None = None,
) -> Iterator[None]:
    """A 403 raised inside is recorded (outcome `refused`, target `<target>:<error code>`), then re-raised.

    `custody.api` records every refusal by its route, on the chain of the customer the *path*
    names. Routes that name the customer (or the processor) in the body use this so their
    refusal lands on that customer's (or processor's) chain too. The chain is `chain_id` (the
    caller's resolved identity, e.g. `processors/<id>` with its `processor` agreement), else the
    customer's if `subject_id` names one who exists, else `refusals/<function>` with no subject.
    A target outside the ledger's grammar (an id a caller typed) is recorded as its kind alone
    (`grant/<text>` → `grant`). Ids, names and the error code only.
    """
    try:
        yield
    except CustodyError as error:
        if error.status == 403:
            chain, subject = (chain_id, None) if chain_id else refusal_chain(settings, function, subject_id)
            kept = target if is_target(target, processor) else target.partition("/")[0]
            AuditLedger(settings).record(
                step=step,
                target=f"{kept}:{error.code}",
                outcome=REFUSED,
                actor=actor,
                subject_id=subject,
                chain_id=chain,
                processor=processor,
            )
        raise
