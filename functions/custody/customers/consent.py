"""Consent: an append-only ledger per customer, and the current state derived from it.

Each grant, withdrawal and objection is an event in the `consents` store (time, purpose, action,
policy version, channel). The purposes currently granted are also kept on the subject record, updated
in the same transaction as the event, so every write can check consent with one read and
guard against a concurrent withdrawal with one condition.

An objection (GDPR art. 21) stops a purpose exactly as its withdrawal does — the same erasure of
what it alone justified — and is recorded as an objection: action `objected` in the consent ledger,
`purpose_objected` in the audit ledger. Only a purpose the data map declares `objectable` may be
objected to: legitimate interests or public task (art. 21(1)), or direct marketing, whatever its basis,
where the objection is absolute (art. 21(2)-(3)).

While the customer's processing is restricted (art. 18) a purpose that is not essential
(`datamap.Purpose.essential`) cannot be granted: the grant's own transaction requires no restriction.
Withdrawals and objections always go through (they stop processing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from custody.audit.ledger import AuditLedger, subject_chain
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import InvalidInput, NotFound
from custody.declared.settings import Settings
from custody.erasure import plan
from custody.erasure.starter import ErasureStarter
from custody.stores import dynamo
from custody.stores.consents import TABLE, ConsentsTable
from custody.stores.requests import ErasureRequest
from custody.stores.subjects import Subject, SubjectRegistry
from custody.subprocessors.registry import Agreement, ProcessorRegistry, sharing_processor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

STORE = TABLE


class ConsentAction(StrEnum):
    """What a consent event records: a purpose granted, withdrawn, or objected to (GDPR art. 21)."""

    GRANT = "grant"
    WITHDRAW = "withdraw"
    OBJECT = "objected"


@dataclass(frozen=True)
class ConsentChange:
    """The outcome of a grant or withdrawal.

    The purpose, the action, when (the one timestamp format), the purposes granted after it, and the
    erasure request a withdrawal set in motion (None when none).
    """

    purpose: str
    action: ConsentAction
    at: str
    granted: tuple[str, ...]  # purposes granted after the change
    erasure: ErasureRequest | None = None  # what the withdrawal set in motion


class ConsentLedger:
    """A customer's consents under `settings`: the consent store, the subject record, erasures and the audit ledger.

    Every change is one transaction of the consent event and the subject's new granted purposes, guarded
    by the subject's consent version (`SubjectRegistry.guarded` re-applies a change that lost a race).
    DynamoDB and Step Functions errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.consents = ConsentsTable(settings)
        self.subjects = SubjectRegistry(settings)
        self.erasures = ErasureStarter(settings)
        self.processors = ProcessorRegistry(settings)
        self.audit = AuditLedger(settings)

    def history(self, subject_id: str) -> list[dict[str, Any]]:
        """Every consent event of the customer, oldest first: `{purpose, action, policy_version, channel, at, ...}`."""
        return self.consents.history(subject_id)

    def grant(self, subject_id: str, purpose: str, policy_version: str, channel: str) -> ConsentChange:
        """Grant a purpose: one of `datamap.PURPOSES`, or `sharing:<id>` of a registered sub-processor.

        Raises `InvalidInput` (422, nothing written) for anything else — free text never becomes
        a purpose, so none reaches the consent store, the subject record or the audit ledger — and
        `ProcessingRestricted` (403) for a purpose that is not essential while the customer's processing is
        restricted (GDPR art. 18(2): nothing new is processed but with their consent, and a restriction
        they keep in place says they do not give it).
        """
        processor = self._check_purpose(purpose)
        if sharing_processor(purpose) is not None and processor is None:
            raise _unknown_purpose()
        change = self.subjects.guarded(
            subject_id, lambda subject: self._grant(subject, purpose, policy_version, channel)
        )
        self.audit.record(
            step="consent_granted",
            target=purpose,
            outcome="ok",
            actor=f"customer:{channel}",
            subject_id=subject_id,
            processor=processor,
        )
        return change

    def withdraw(self, subject_id: str, purpose: str, channel: str, address: str | None = None) -> ConsentChange:
        """Withdraw a granted purpose (`NotFound` if it is not granted now).

        A `sharing:` purpose granted before its processor had to be registered can still be
        withdrawn; the ledger then names it `sharing`, without the unregistered id. An erasure the
        withdrawal starts is acknowledged to `address` (the caller's verified e-mail), with its due date.
        """
        processor = self._check_purpose(purpose)
        return self.subjects.guarded(
            subject_id, lambda subject: self._withdraw(subject, purpose, channel, processor, address)
        )

    def object(self, subject_id: str, purpose: str, channel: str, address: str | None = None) -> ConsentChange:
        """Object to a purpose (GDPR art. 21): it stops as its withdrawal would, and the objection is recorded.

        A granted purpose is withdrawn and what it alone justified is erased (the same erasure its
        withdrawal starts); a purpose not granted now stays so, and the objection is recorded all the same
        (an objection may be made at any time, art. 21(2): the record shows it was honoured). Raises
        `InvalidInput` (422, nothing written) for a purpose that is not declared, or whose legal basis
        admits no objection (`datamap.Purpose.objectable`: contract, consent other than direct
        marketing...) — the details name the basis and the purposes that may be objected to. An erasure the
        objection starts is acknowledged to `address` (the caller's verified e-mail), as a withdrawal's is.
        """
        self._check_purpose(purpose)
        declared = datamap.purpose(purpose)
        if not declared.objectable:
            raise InvalidInput(
                f"This purpose's legal basis is {declared.legal_basis.value} ({declared.legal_basis.article}): "
                "GDPR art. 21 gives no right to object to it; withdraw it instead.",
                {
                    "field": "purpose",
                    "legal_basis": declared.legal_basis.value,
                    "objectable": list(datamap.objectable_purposes()),
                },
            )
        return self.subjects.guarded(
            subject_id, lambda subject: self._withdraw(subject, purpose, channel, None, address, objection=True)
        )

    def _check_purpose(self, purpose: str) -> Agreement | None:
        """The agreement a `sharing:` purpose names (None if unregistered or not a sharing purpose)."""
        if not datamap.is_purpose(purpose):
            raise _unknown_purpose()
        processor_id = sharing_processor(purpose)
        return self.processors.get(processor_id) if processor_id else None

    def _grant(self, subject: Subject, purpose: str, policy_version: str, channel: str) -> ConsentChange:
        subject.ensure_active()
        essential = datamap.is_essential(purpose)
        if not essential:
            subject.ensure_unrestricted([purpose])
        at = now_iso()
        dynamo.transact(
            [
                self._event(subject.subject_id, purpose, ConsentAction.GRANT, policy_version, channel, at),
                self._set_granted(
                    subject, {**subject.granted, purpose: policy_version}, {}, unrestricted=not essential
                ),
            ]
        )
        return ConsentChange(purpose, ConsentAction.GRANT, at, tuple(sorted(subject.purposes | {purpose})))

    def _withdraw(
        self,
        subject: Subject,
        purpose: str,
        channel: str,
        processor: Agreement | None,
        address: str | None,
        *,
        objection: bool = False,
    ) -> ConsentChange:
        subject.ensure_active()
        action = ConsentAction.OBJECT if objection else ConsentAction.WITHDRAW
        if purpose not in subject.granted and not objection:
            raise NotFound("This purpose is not currently granted.")
        at = now_iso()
        cause = (
            plan.of_withdrawn_purpose(purpose, subject.purposes, subject.disclosed_to)
            if purpose in subject.granted
            else None
        )
        erasure, created = self.erasures.request_for(subject, cause) if cause else (None, False)
        granted = {name: version for name, version in subject.granted.items() if name != purpose}
        update = self.erasures.subject_update(erasure, subject) if erasure is not None and created else {}
        items: list[TransactWriteItemTypeDef] = [
            self._event(subject.subject_id, purpose, action, subject.granted.get(purpose), channel, at),
            self._set_granted(subject, granted, update),
        ]
        if erasure is not None and created:
            items.append(self.erasures.requests.put_new(erasure))
        dynamo.transact(items)
        self._audit_withdrawal(subject.subject_id, purpose, channel, erasure, created, processor, objection=objection)
        if erasure is not None:
            self.erasures.start(erasure)
        if erasure is not None and created:
            self.erasures.acknowledge(erasure, address)
        return ConsentChange(purpose, action, at, tuple(sorted(granted)), erasure)

    def _audit_withdrawal(
        self,
        subject_id: str,
        purpose: str,
        channel: str,
        erasure: ErasureRequest | None,
        created: bool,
        processor: Agreement | None,
        *,
        objection: bool = False,
    ) -> None:
        """The withdrawal (or objection) on the subject's chain.

        An erasure it starts opens its own chain with the cause: `consent:<purpose>`, or `objection:<purpose>`.
        """
        actor = f"customer:{channel}"
        request_id = erasure.request_id if erasure else None
        if sharing_processor(purpose) is not None and processor is None:
            purpose = "sharing"  # an unregistered id stays out of the ledger
        self.audit.record(
            step="purpose_objected" if objection else "consent_withdrawn",
            target=purpose,
            outcome="erasure_requested" if created else "ok",
            actor=actor,
            subject_id=subject_id,
            request_id=request_id,
            chain_id=subject_chain(subject_id),
            processor=processor,
        )
        if erasure is not None and created:
            cause = f"objection:{purpose}" if objection else f"consent:{purpose}"
            self.erasures.opened(erasure, step="erasure_requested", target=cause, actor=actor, processor=processor)

    def _set_granted(
        self, subject: Subject, granted: dict[str, str], update: dict[str, Any], *, unrestricted: bool = False
    ) -> TransactWriteItemTypeDef:
        """The transaction item that sets the subject's granted purposes, bumping its consent version.

        The whole map is written: the consent-version guard makes the loaded state the current one.
        `update` is what a new erasure request adds (`ErasureStarter.subject_update`), or empty;
        `unrestricted` requires that the customer has not restricted processing (a non-essential grant).
        """
        sets = ["granted = :granted", *update.get("set_expressions", [])]
        values: dict[str, Any] = {":granted": granted, **update.get("values", {})}
        return self.subjects.touch(
            subject,
            set_expressions=sets,
            values=values,
            add_open_request=update.get("add_open_request"),
            also_require=update.get("also_require"),
            bump_consent=True,
            unrestricted=unrestricted,
        )

    def _event(
        self, subject_id: str, purpose: str, action: ConsentAction, policy_version: str | None, channel: str, at: str
    ) -> TransactWriteItemTypeDef:
        """The consent event; `policy_version` is the grant's (None for an objection to a purpose not granted)."""
        event_id = str(uuid.uuid4())
        event = {
            "subject_id": subject_id,
            "event_key": f"{at}#{event_id}",
            "purpose": purpose,
            "action": action.value,
            "policy_version": policy_version,
            "channel": channel,
            "at": at,
        }
        return self.consents.append({name: value for name, value in event.items() if value is not None})


def _unknown_purpose() -> InvalidInput:
    return InvalidInput(
        "Unknown purpose.",
        {"field": "purpose", "allowed": [*datamap.PURPOSES, f"{datamap.SHARING_PREFIX}<registered processor_id>"]},
    )
