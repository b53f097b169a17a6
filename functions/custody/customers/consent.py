"""Consent: an append-only ledger per customer, and the current state derived from it.

Each grant and withdrawal is an event in the `consents` store (time, purpose, action, policy
version, channel). The purposes currently granted are also kept on the subject record, updated
in the same transaction as the event, so every write can check consent with one read and
guard against a concurrent withdrawal with one condition.
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
from custody.erasure.requests import ErasureReason, ErasureRequest, RequestRegistry
from custody.stores import dynamo
from custody.stores.subjects import Subject, SubjectRegistry
from custody.subprocessors.registry import Agreement, ProcessorRegistry, sharing_processor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

STORE = "consents"


class ConsentAction(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class ConsentChange:
    purpose: str
    action: ConsentAction
    at: str
    granted: tuple[str, ...]  # purposes granted after the change
    erasure: ErasureRequest | None = None  # what the withdrawal set in motion


class ConsentLedger:
    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(STORE)
        self.subjects = SubjectRegistry(settings)
        self.requests = RequestRegistry(settings)
        self.processors = ProcessorRegistry(settings)
        self.audit = AuditLedger(settings)

    def history(self, subject_id: str) -> list[dict[str, Any]]:
        return list(dynamo.query_partition(self.table, "subject_id", subject_id))

    def grant(self, subject_id: str, purpose: str, policy_version: str, channel: str) -> ConsentChange:
        """Grant a purpose: one of `datamap.PURPOSES`, or `sharing:<id>` of a registered sub-processor.

        Raises `InvalidInput` (422, nothing written) for anything else — free text never becomes
        a purpose, so none reaches the consent store, the subject record or the audit ledger.
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

    def withdraw(self, subject_id: str, purpose: str, channel: str) -> ConsentChange:
        """Withdraw a granted purpose (`NotFound` if it is not granted now).

        A `sharing:` purpose granted before its processor had to be registered can still be
        withdrawn; the ledger then names it `sharing`, without the unregistered id.
        """
        processor = self._check_purpose(purpose)
        return self.subjects.guarded(subject_id, lambda subject: self._withdraw(subject, purpose, channel, processor))

    def _check_purpose(self, purpose: str) -> Agreement | None:
        """The agreement a `sharing:` purpose names (None if unregistered or not a sharing purpose)."""
        if not datamap.is_purpose(purpose):
            raise _unknown_purpose()
        processor_id = sharing_processor(purpose)
        return self.processors.get(processor_id) if processor_id else None

    def _grant(self, subject: Subject, purpose: str, policy_version: str, channel: str) -> ConsentChange:
        subject.ensure_active()
        at = now_iso()
        dynamo.transact(
            [
                self._event(subject.subject_id, purpose, ConsentAction.GRANT, policy_version, channel, at),
                self._set_granted(subject, {**subject.granted, purpose: policy_version}),
            ]
        )
        return ConsentChange(purpose, ConsentAction.GRANT, at, tuple(sorted(subject.purposes | {purpose})))

    def _withdraw(self, subject: Subject, purpose: str, channel: str, processor: Agreement | None) -> ConsentChange:
        subject.ensure_active()
        if purpose not in subject.granted:
            raise NotFound("This purpose is not currently granted.")
        remaining = subject.purposes - {purpose}
        at = now_iso()
        # Only what this purpose alone still justified: categories no granted purpose covered hold nothing.
        unjustified_before = set(datamap.unjustified_categories(subject.purposes))
        scope = tuple(item.name for item in datamap.unjustified_categories(remaining) if item not in unjustified_before)
        full = purpose == datamap.CRM_CORE
        erasure = None
        if full and subject.pending_erasure:
            erasure = self.requests.erasure(subject.pending_erasure)
        if erasure is None and (full or scope):
            reason = ErasureReason.WITHDRAWAL if full else ErasureReason.PURPOSE_WITHDRAWN
            everything = tuple(item.name for item in datamap.CATEGORIES)
            erasure = self.requests.new_erasure(subject.subject_id, reason, everything if full else scope)
        elif erasure is None and _sharing_with(purpose) in subject.disclosed_to:
            # Our own copies stay (their own purposes still justify them); the sub-processor that
            # received them is asked to delete, through the erasure workflow's notification step.
            erasure = self.requests.new_erasure(
                subject.subject_id, ErasureReason.PURPOSE_WITHDRAWN, (), (_sharing_with(purpose),)
            )
        items: list[TransactWriteItemTypeDef] = [
            self._event(subject.subject_id, purpose, ConsentAction.WITHDRAW, subject.granted[purpose], channel, at),
            self._set_granted(
                subject,
                {name: version for name, version in subject.granted.items() if name != purpose},
                erasure.request_id if erasure else None,
                full,
            ),
        ]
        created = erasure is not None and erasure.request_id != subject.pending_erasure
        if erasure is not None and created:
            items.append(self.requests.put_item(erasure))
        dynamo.transact(items)
        self._audit_withdrawal(subject.subject_id, purpose, channel, erasure, created, processor)
        if erasure is not None:
            self.requests.start(erasure)
        return ConsentChange(purpose, ConsentAction.WITHDRAW, at, tuple(sorted(remaining)), erasure)

    def _audit_withdrawal(
        self,
        subject_id: str,
        purpose: str,
        channel: str,
        erasure: ErasureRequest | None,
        created: bool,
        processor: Agreement | None,
    ) -> None:
        """The withdrawal on the subject's chain; an erasure it starts opens its own chain with the cause."""
        actor = f"customer:{channel}"
        request_id = erasure.request_id if erasure else None
        if sharing_processor(purpose) is not None and processor is None:
            purpose = "sharing"  # an unregistered id stays out of the ledger
        self.audit.record(
            step="consent_withdrawn",
            target=purpose,
            outcome="erasure_requested" if created else "ok",
            actor=actor,
            subject_id=subject_id,
            request_id=request_id,
            chain_id=subject_chain(subject_id),
            processor=processor,
        )
        if erasure is not None and created:
            self.audit.record(
                step="erasure_requested",
                target=f"consent:{purpose}",
                outcome="ok",
                actor=actor,
                subject_id=subject_id,
                request_id=erasure.request_id,
                counts={"categories": len(erasure.scope)},
                processor=processor,
            )

    def _set_granted(
        self, subject: Subject, granted: dict[str, str], request_id: str | None = None, full: bool = False
    ) -> TransactWriteItemTypeDef:
        # The whole map is written: the consent-version guard makes the loaded state the current one.
        sets = ["granted = :granted"]
        values: dict[str, Any] = {":granted": granted}
        if full and request_id:
            sets.append("pending_erasure = :request_id")
            values[":request_id"] = request_id
        return self.subjects.touch(
            subject, set_expressions=sets, values=values, add_open_request=request_id, bump_consent=True
        )

    def _event(
        self, subject_id: str, purpose: str, action: ConsentAction, policy_version: str, channel: str, at: str
    ) -> TransactWriteItemTypeDef:
        event_id = str(uuid.uuid4())
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.to_item(
                    {
                        "subject_id": subject_id,
                        "event_key": f"{at}#{event_id}",
                        "purpose": purpose,
                        "action": action.value,
                        "policy_version": policy_version,
                        "channel": channel,
                        "at": at,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(event_key)",
            }
        }


def _sharing_with(purpose: str) -> str:
    """The sub-processor a `sharing:<processor_id>` purpose names, else an empty string."""
    return sharing_processor(purpose) or ""


def _unknown_purpose() -> InvalidInput:
    return InvalidInput(
        "Unknown purpose.",
        {"field": "purpose", "allowed": [*datamap.PURPOSES, f"{datamap.SHARING_PREFIX}<registered processor_id>"]},
    )
