"""The sub-processor registry: each processor's data-processing agreement, kept by privacy officers.

An agreement names the purposes and categories it covers, the processor's commitments
(purpose limitation, confidentiality, deletion within N days, no onward transfer without
approval — all mandatory), how it receives deletion requests (the erasure workflow's SQS
notification queue, acknowledged through `POST /v1/processors/erasure-acks`), the machine
identity it authenticates as, and its status. Companies, not people: the registry is an
operational table, and listing it is a Scan of a table bounded by the number of contracts.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from custody.access_control.principals import StaffMember
from custody.audit.grammar import AGREEMENT_VERSION_PATTERN
from custody.audit.grammar import PROCESSOR_ID_PATTERN as PROCESSOR_ID_PATTERN
from custody.audit.ledger import AuditLedger
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import InvalidInput
from custody.declared.settings import Settings
from custody.platform import text
from custody.stores.processors import ProcessorsTable

SECONDS_PER_DAY: Final = 86_400


class ProcessorStatus(StrEnum):
    """Whether data may go to a sub-processor under its agreement: `active`, or `suspended`."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class Commitments(BaseModel):
    """What a sub-processor commits to: terms GDPR art. 28(3) asks a processing contract to hold.

    Purpose limitation, confidentiality and no onward transfer without approval must each be `True`;
    deletion is promised within `deletion_days` (1 to 365) of a request.
    """

    model_config = ConfigDict(extra="forbid")

    purpose_limitation: Literal[True]
    confidentiality: Literal[True]
    deletion_days: Annotated[int, Field(ge=1, le=365)]
    onward_transfer_requires_approval: Literal[True]


class DeletionChannel(BaseModel):
    """How a sub-processor receives deletion requests: the erasure workflow's SQS queue.

    `acknowledgement_timeout_seconds` (at most a year) bounds the workflow's wait for its
    acknowledgement; None means the deletion commitment's days.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sqs"] = "sqs"
    # How long the workflow waits for the acknowledgement; defaults to the deletion commitment.
    acknowledgement_timeout_seconds: Annotated[int | None, Field(ge=1, le=365 * SECONDS_PER_DAY)] = None


class AgreementTerms(BaseModel):
    """What a privacy officer records (`PUT /v1/staff/processors/{processor_id}`)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[text.Text, Field(min_length=1, max_length=120)]
    version: Annotated[
        str, Field(pattern=AGREEMENT_VERSION_PATTERN, description="The contract's version label, e.g. 2026-11-a")
    ]
    signed_on: date
    purposes: Annotated[list[str], Field(min_length=1, max_length=10)]
    categories: Annotated[list[str], Field(min_length=1, max_length=20)]
    commitments: Commitments
    deletion_channel: DeletionChannel = DeletionChannel()
    principal: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_+]{1,128}$",
            description="The machine client's token `sub` (its Cognito app client id, `[\\w+]+`)",
        ),
    ]
    status: ProcessorStatus = ProcessorStatus.ACTIVE


class Agreement(AgreementTerms):
    """A recorded data-processing agreement: its terms, the processor's registry id, when and by whom (staff id)."""

    processor_id: str
    updated_at: str
    updated_by: str

    @property
    def active(self) -> bool:
        """Whether data may be disclosed under it now (status `active`)."""
        return self.status is ProcessorStatus.ACTIVE

    def acknowledgement_timeout(self) -> int:
        """How long the erasure workflow waits for this processor's acknowledgement, in seconds.

        The deletion channel's timeout when set, else `deletion_days` days.
        """
        return self.deletion_channel.acknowledgement_timeout_seconds or self.commitments.deletion_days * SECONDS_PER_DAY


def processor_chain(agreement: Agreement) -> str:
    """The audit chain of a registered sub-processor's agreements, acknowledgements and refusals."""
    return f"processors/{agreement.processor_id}"


def sharing_processor(purpose: str) -> str | None:
    """The processor id a `sharing:<processor_id>` purpose names (registered or not), else None."""
    rest = purpose.removeprefix(datamap.SHARING_PREFIX)
    return rest if rest != purpose and rest else None


def disclosable() -> tuple[str, ...]:
    """The categories a sub-processor may receive: those some purpose justifies (not processing records)."""
    return tuple(category.name for category in datamap.CATEGORIES if category.purposes)


def check_terms(terms: AgreementTerms) -> None:
    """Raise `InvalidInput` (naming `purposes` or `categories`) for terms the data map does not support.

    Every purpose must be declared, every category disclosable, and every category justified by one of
    the agreed purposes.
    """
    problems = []
    unknown_purposes = [purpose for purpose in terms.purposes if purpose not in datamap.PURPOSES]
    if unknown_purposes:
        problems.append({"field": "purposes", "reason": f"each must be one of {list(datamap.PURPOSES)}"})
    unknown = [name for name in terms.categories if name not in disclosable()]
    if unknown:
        problems.append({"field": "categories", "reason": f"each must be one of {list(disclosable())}"})
    elif not unknown_purposes:
        uncovered = [
            name for name in terms.categories if not set(datamap.category(name).purposes) & set(terms.purposes)
        ]
        if uncovered:
            problems.append({"field": "categories", "reason": f"no agreed purpose justifies {uncovered}"})
    if problems:
        raise InvalidInput("The agreement is not valid.", {"fields": problems})


class ProcessorRegistry:
    """The sub-processor registry under `settings`: agreements by processor id, and by the principal acting for each.

    DynamoDB errors pass through as botocore's `ClientError`; an item that no longer parses as an
    agreement raises pydantic's `ValidationError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.agreements = ProcessorsTable(settings)

    def put(self, officer: StaffMember, processor_id: str, terms: AgreementTerms) -> Agreement:
        """Record the agreement; 422 (`InvalidInput`) if it is not valid or its principal acts for another processor.

        Raises `Forbidden` unless `officer` is a privacy officer.
        """
        officer.require_privacy_officer()
        check_terms(terms)
        if any(other != processor_id for other in self._acting_for(terms.principal)):
            raise InvalidInput(
                "The agreement is not valid.",
                {"fields": [{"field": "principal", "reason": "already acts for another sub-processor"}]},
            )
        agreement = Agreement(
            **terms.model_dump(), processor_id=processor_id, updated_at=now_iso(), updated_by=officer.staff_id
        )
        self.agreements.put(agreement.model_dump(mode="json"))
        AuditLedger(self.settings).record(
            step="processor_agreement",
            target=f"processor/{processor_id}:{agreement.version}",
            outcome=agreement.status.value,
            actor=officer.actor,
            chain_id=processor_chain(agreement),
            processor=agreement,
        )
        return agreement

    def get(self, processor_id: str) -> Agreement | None:
        """The agreement of `processor_id`, or None when none is recorded."""
        item = self.agreements.get(processor_id)
        return Agreement.model_validate(item) if item else None

    def for_principal(self, principal: str) -> Agreement | None:
        """The agreement whose `principal` is this machine identity; None if none, or (fail closed) several."""
        found = self._acting_for(principal)
        return self.get(found[0]) if len(found) == 1 else None

    def _acting_for(self, principal: str) -> list[str]:
        """The processor ids whose agreement names this principal (two at most: one is the rule)."""
        return self.agreements.acting_for(principal)

    def list(self) -> list[Agreement]:
        """Every agreement, by processor id."""
        found = [Agreement.model_validate(item) for item in self.agreements.all()]
        return sorted(found, key=lambda agreement: agreement.processor_id)
