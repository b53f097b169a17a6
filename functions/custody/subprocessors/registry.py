"""The sub-processor registry: each processor's data-processing agreement, kept by privacy officers.

An agreement names the purposes and categories it covers, the processor's commitments
(purpose limitation, confidentiality, deletion within N days, no onward transfer without
approval — all mandatory), how it receives deletion requests (the erasure workflow's SQS
notification queue, acknowledged through `POST /v1/processors/erasure-acks`), the machine
identity it authenticates as, and its status. Companies, not people: the registry is an
operational table, and listing it is a Scan of a table bounded by the number of contracts.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

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
from custody.stores.signing_secrets import SigningSecrets

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
    """How a sub-processor receives deletion requests from the erasure workflow's queue.

    `https`: the relay (`custody.subprocessors.relay`) POSTs each request, signed, to `endpoint`
    (an `https://` URL of a public host: `endpoint_problem`). `sqs`: no endpoint; the request waits
    on the queue and reaches the dead-letter queue and its alarm, and is delivered by hand
    (docs/runbooks/unconfirmed-processor.md). `acknowledgement_timeout_seconds` (at most a year)
    bounds the workflow's wait for its acknowledgement; None means the deletion commitment's days.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sqs", "https"] = "sqs"
    endpoint: Annotated[
        str | None,
        Field(
            max_length=2048,
            pattern=r"^https://[!-~]+$",  # printable ASCII: an IDN host in its punycode form
            description="https only; where the relay POSTs signed deletion requests (kind `https`)",
        ),
    ] = None
    # How long the workflow waits for the acknowledgement; defaults to the deletion commitment.
    acknowledgement_timeout_seconds: Annotated[int | None, Field(ge=1, le=365 * SECONDS_PER_DAY)] = None


_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_AUTHORITY: Final = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PRIVATE_SUFFIXES: Final = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


def endpoint_problem(endpoint: str, *, allow_loopback: bool) -> str | None:
    """Why `endpoint` cannot receive deletion requests, or None when it can.

    It must be an `https://` URL with a host, no user name or password, no fragment; the host a
    public name or a global IP address (`ipaddress.is_global`). With `allow_loopback` (the local
    stack's setting, `Settings.processor_endpoints_allow_loopback`), `localhost`, 127.0.0.1 and
    [::1] are accepted too, and nothing else that is not public.
    """
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "is not a URL"
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https":
        return "must be an https:// URL"
    if "@" in parts.netloc:
        return "must not carry credentials"
    if not _AUTHORITY.fullmatch(parts.netloc):
        return "must name a host (and a port) only"
    if not host:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    if parts.fragment:
        return "must not have a fragment"
    if port == 0:
        return "must not use port 0"
    if allow_loopback and host in _LOOPBACK_NAMES:
        return None
    return None if public_host(host) else "must be a public host"


def public_host(host: str) -> bool:
    """Whether `host` (a name or an IP literal) may be reached: a global address, or a name outside private zones."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        pass
    return "." in host and host not in _LOOPBACK_NAMES and not host.endswith(_PRIVATE_SUFFIXES)


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


def check_terms(terms: AgreementTerms, settings: Settings | None = None) -> None:
    """Raise `InvalidInput` (naming `purposes`, `categories` or `deletion_channel`) for terms we cannot honour.

    Every purpose must be declared, every category disclosable, and every category justified by one of
    the agreed purposes; an `https` channel needs an endpoint `endpoint_problem` accepts (loopback
    only where `settings` allow it), an `sqs` channel has none.
    """
    problems = []
    channel = terms.deletion_channel
    allow_loopback = settings is not None and settings.processor_endpoints_allow_loopback
    if channel.kind == "https":
        problem = (
            "is required"
            if channel.endpoint is None
            else endpoint_problem(channel.endpoint, allow_loopback=allow_loopback)
        )
        if problem:
            problems.append({"field": "deletion_channel.endpoint", "reason": problem})
    elif channel.endpoint is not None:
        problems.append({"field": "deletion_channel.endpoint", "reason": "only an https channel has an endpoint"})
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
        check_terms(terms, self.settings)
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

    def issue_signing_secret(self, agreement: Agreement, *, rotate: bool) -> str | None:
        """The agreement's new request-signing secret, to hand over once; None when it keeps the one it has.

        Only an `https` channel is signed for: for another kind, None and nothing is created.
        """
        if agreement.deletion_channel.kind != "https":
            return None
        return SigningSecrets(self.settings).issue(agreement.processor_id, rotate=rotate)

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
