"""Who is calling a staff or sub-processor route, and the audit trail of what they were refused.

A staff member is the staff pool's access token: `sub` and `cognito:groups`. A sub-processor is
a machine client of the processor pool: its access token's `sub` (the app client in AWS). Both
arrive as the `Caller` that `custody.access_control.authorization` authorized for the route.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from custody.access_control.authorization import Caller
from custody.audit.grammar import RegisteredProcessor, is_target
from custody.audit.ledger import AuditLedger, refusal_chain
from custody.declared.catalog import Audience
from custody.declared.errors import CustodyError, Forbidden, Unauthenticated
from custody.declared.settings import Settings

PRIVACY_OFFICER: Final = "privacy_officer"
STAFF_FUNCTION: Final = "staff"  # the catalog function that serves the staff routes
PROCESSORS_FUNCTION: Final = "processors"  # and the one that serves the sub-processor routes
REFUSED: Final = "refused"


@dataclass(frozen=True)
class StaffMember:
    """A staff member as their access token names them: the staff pool's `sub` and their `cognito:groups`."""

    staff_id: str
    groups: frozenset[str]

    @property
    def actor(self) -> str:
        """How the audit ledger names this staff member: `staff/<sub>`."""
        return f"staff/{self.staff_id}"

    @property
    def is_privacy_officer(self) -> bool:
        """Whether the member belongs to the `privacy_officer` group."""
        return PRIVACY_OFFICER in self.groups

    def require_privacy_officer(self) -> None:
        """Raises `Forbidden` unless this is a privacy officer.

        The domain's own statement of a rule the route declares too (`catalog.Route.groups`), so no
        other entry point can skip it.
        """
        if not self.is_privacy_officer:
            raise Forbidden("Only a privacy officer may do this.")


def staff_member(caller: Caller) -> StaffMember:
    """The staff member an authorized staff caller is (`custody.access_control.authorization`)."""
    if caller.audience is not Audience.STAFF or not caller.subject:
        raise Unauthenticated("A staff token is required.")
    return StaffMember(caller.subject, caller.groups)


def processor_principal(caller: Caller) -> str:
    """The machine identity of a sub-processor: its access token's `sub` (its app client in AWS)."""
    if caller.audience is not Audience.PROCESSOR or not caller.subject:
        raise Unauthenticated("A sub-processor token is required.")
    return caller.subject


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

    `custody.api.http` records every refusal by its route, on the chain of the customer the *path*
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
