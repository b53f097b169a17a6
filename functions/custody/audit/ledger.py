"""The audit ledger: one hash-chained event per workflow step and per sensitive action.

An event is `{event_id, chain_id, seq, request_id, subject_id, step, target, outcome, counts,
at, actor, attests, prev_hash, hash}` — ids, names, statuses and counts, never personal data
(`attests` is the SHA-256 of a document the event vouches for, e.g. an erasure certificate). `hash` is
SHA-256 over the canonical JSON of the event without `hash`; `prev_hash` is the previous
event's `hash` in the same chain (`GENESIS` for the first). A chain is an erasure request (its
id) or a subject's activity (`subject/<subject id>`) for actions outside a request.

Events are objects in the audit bucket under `ledger/<chain>/<seq>-<event id>.json`, protected
by Object Lock in COMPLIANCE mode: nobody, root included, can delete or overwrite a version
before its retention ends. Writers may only put: they cannot read the ledger back (the audit
key is encrypt-only for them), so each chain's head (seq, hash) is kept in the `audit_chains`
table, claimed by a conditional write before the object is put — concurrent appends to one
chain (the erasure Map's parallel stores) are serialized there, never forked. A warm process
remembers the heads it claimed and tries the next claim against that memory without reading the
table first; the condition on `seq` refuses a stale memory, which then reads the head and retries,
so the cache saves a read per event and can never fork a chain.

Callers (the erasure workflow, the API's sensitive actions, staff and processor actions) use
one stable call: `AuditLedger(settings).record(step=..., target=..., outcome=..., actor=...,
request_id=..., subject_id=..., counts=..., chain_id=..., attests=..., processor=...)`, keyword
arguments only. Every field must be in the ledger's grammar (`custody.audit.grammar`): UUIDs,
declared names, and the registry id of the agreement passed as `processor=`. Anything else is
refused with `OutsideLedgerGrammar` before anything is claimed or written. See docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

from custody.audit.grammar import OutsideLedgerGrammar as OutsideLedgerGrammar
from custody.audit.grammar import RegisteredProcessor, check_document, check_event
from custody.declared.clock import now_iso
from custody.declared.ids import is_uuid
from custody.declared.settings import Settings
from custody.stores.audit_chains import TABLE as AUDIT_CHAINS
from custody.stores.audit_chains import AuditChainsTable
from custody.stores.ledger_bucket import LedgerBucket
from custody.stores.subjects import SubjectRegistry

log = logging.getLogger(__name__)

CHAINS_TABLE: Final = AUDIT_CHAINS  # (custody.stores.audit_chains)
LEDGER_PREFIX: Final = "ledger"
GENESIS: Final = "0" * 64
MAX_CLAIM_ATTEMPTS: Final = 10
DOCUMENTS: Final = "documents"
HEAD_CACHE_ENTRIES: Final = 256


class _ClaimedHeads:
    """The chain heads this process last claimed: (table, chain) → {seq, hash}, least recent evicted."""

    def __init__(self, capacity: int = HEAD_CACHE_ENTRIES) -> None:
        self._heads: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, table: str, chain: str) -> dict[str, Any] | None:
        with self._lock:
            head = self._heads.get((table, chain))
            if head is not None:
                self._heads.move_to_end((table, chain))
            return head

    def clear(self) -> None:
        with self._lock:
            self._heads.clear()

    def put(self, table: str, chain: str, head: dict[str, Any]) -> None:
        with self._lock:
            self._heads[(table, chain)] = head
            self._heads.move_to_end((table, chain))
            while len(self._heads) > self._capacity:
                self._heads.popitem(last=False)


CLAIMED_HEADS: Final = _ClaimedHeads()


class EventSink(Protocol):
    """Somewhere else the same events go (CloudTrail Lake); the Object Lock ledger stays the record."""

    def send(self, event: AuditEvent) -> None:
        """Deliver one sealed event; raise when the sink did not take it."""


class AuditWriteFailed(Exception):
    """The ledger could not take the event (the chain kept moving, or S3 refused it)."""


@dataclass(frozen=True)
class AuditEvent:
    """One event of a chain, as stored: the fields the module docstring lists.

    `seq` counts from 1 in its chain; `at` is in the one timestamp format (`custody.declared.clock`);
    `counts` maps count names to integers; `hash` is empty until `sealed()`.
    """

    event_id: str
    chain_id: str
    seq: int
    request_id: str | None
    subject_id: str | None
    step: str
    target: str
    outcome: str
    counts: dict[str, int]
    at: str
    actor: str
    prev_hash: str
    attests: str | None = None
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """Everything the hash covers: the event without its own hash."""
        values = asdict(self)
        values.pop("hash")
        return values

    def sealed(self) -> AuditEvent:
        """This event with `hash` set: the SHA-256 (lower-case hex) of the canonical JSON of `body()`."""
        return AuditEvent(**{**self.body(), "hash": digest(self.body())})

    def key(self) -> str:
        """The event's object key: `ledger/<chain>/<seq as 8 digits>-<event id>.json`, sorting in chain order."""
        return event_key(self.chain_id, self.seq, self.event_id)

    @classmethod
    def from_json(cls, value: Any) -> AuditEvent:
        """An event from its stored JSON object; unknown keys are ignored.

        Raises `ValueError` when `value` is not an object, a field without a default is missing,
        or a field has another JSON type than the event's (`seq` an integer, `counts` an object
        of integers, the ids and `attests` strings or null where the event allows it).
        """
        if not isinstance(value, dict):
            raise ValueError("an audit event is a JSON object")
        fields = {name: value[name] for name in cls.__dataclass_fields__ if name in value}
        missing = sorted(set(_REQUIRED_FIELDS) - set(fields))
        if missing:
            raise ValueError(f"an audit event needs {', '.join(missing)}")
        for name, kinds in _FIELD_TYPES.items():
            if name in fields and (isinstance(fields[name], bool) or not isinstance(fields[name], kinds)):
                raise ValueError(f"an audit event's {name} has the wrong type")
        counts = fields["counts"]
        if not all(isinstance(count, int) and not isinstance(count, bool) for count in counts.values()):
            raise ValueError("an audit event's counts are integers")
        return cls(**fields)


_OPTIONAL_FIELDS: Final = frozenset({"attests", "hash"})
_REQUIRED_FIELDS: Final = tuple(name for name in AuditEvent.__dataclass_fields__ if name not in _OPTIONAL_FIELDS)
_FIELD_TYPES: Final[dict[str, type | tuple[type, ...]]] = {
    "event_id": str,
    "chain_id": str,
    "seq": int,
    "request_id": (str, type(None)),
    "subject_id": (str, type(None)),
    "step": str,
    "target": str,
    "outcome": str,
    "counts": dict,
    "at": str,
    "actor": str,
    "prev_hash": str,
    "attests": (str, type(None)),
    "hash": str,
}


def chain_prefix(chain_id: str) -> str:
    """The key prefix of a chain's objects: `ledger/<chain_id>/`."""
    return f"{LEDGER_PREFIX}/{chain_id}/"


def event_key(chain_id: str, seq: int, event_id: str) -> str:
    """The object key of event `event_id` at `seq` of a chain: `ledger/<chain_id>/<seq as 8 digits>-<event_id>.json`."""
    return f"{chain_prefix(chain_id)}{seq:08d}-{event_id}.json"


def document_key(chain_id: str, name: str) -> str:
    """Documents an event attests (certificates) live beside the chain, outside its numbering."""
    return f"{chain_prefix(chain_id)}{DOCUMENTS}/{name}.json"


def canonical(value: Any) -> bytes:
    """Canonical JSON as UTF-8 bytes: keys sorted, no whitespace, non-ASCII as is; what hashes are taken over.

    Raises `TypeError` for a value JSON cannot encode.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(body: dict[str, Any]) -> str:
    """The SHA-256 (64 lower-case hex digits) of the canonical JSON of `body`."""
    return hashlib.sha256(canonical(body)).hexdigest()


def subject_chain(subject_id: str) -> str:
    """The chain of a subject's actions outside an erasure request: `subject/<subject_id>`."""
    return f"subject/{subject_id}"


def refusals_chain(function: str) -> str:
    """The chain of a function's refusals that name no customer (or one that does not exist)."""
    return f"refusals/{function}"


def refusal_chain(settings: Settings, function: str, subject_id: str | None) -> tuple[str, str | None]:
    """Where a refusal naming `subject_id` is recorded: `(chain, subject id to record)`.

    The named customer's chain only if the id is a UUID of a customer the registry holds (one
    read); otherwise the function's refusal chain and no subject — an id that names nobody may
    be anything a caller typed, and a chain per such id would hold it under Object Lock.
    """
    if subject_id and is_uuid(subject_id) and SubjectRegistry(settings).load(subject_id).exists:
        return subject_chain(subject_id), subject_id
    return refusals_chain(function), None


def _head_item(event: AuditEvent) -> dict[str, Any]:
    """The `audit_chains` item a successful claim of this event leaves."""
    return {"chain_id": event.chain_id, "seq": event.seq, "hash": event.hash, "updated_at": event.at}


@dataclass
class AuditLedger:
    """The audit ledger as one function writes it, from `settings`.

    Chain heads go to the `audit_chains` table, events and documents to the Object Lock bucket, and a
    copy of each event to CloudTrail Lake when `settings.audit_lake_channel_arn` names a channel.
    """

    settings: Settings
    chains: AuditChainsTable = field(init=False)
    objects: LedgerBucket = field(init=False)
    table: str = field(init=False)
    sinks: list[EventSink] = field(init=False)

    def __post_init__(self) -> None:
        self.chains = AuditChainsTable(self.settings)
        self.objects = LedgerBucket(self.settings)
        self.table = self.chains.table  # the heads this process remembers are keyed by it
        self.sinks = []
        if self.settings.audit_lake_channel_arn:
            from custody.audit.lake import LakeChannel

            self.sinks.append(LakeChannel(self.settings.audit_lake_channel_arn))

    def record(
        self,
        *,
        step: str,
        target: str,
        outcome: str,
        actor: str,
        request_id: str | None = None,
        subject_id: str | None = None,
        counts: dict[str, int] | None = None,
        chain_id: str | None = None,
        attests: str | None = None,
        processor: RegisteredProcessor | None = None,
    ) -> AuditEvent:
        """Append one event to its chain (the request's, else the subject's) and return it.

        `processor` is the loaded agreement of the sub-processor the event names (in its chain,
        target, actor or a `sharing:` purpose): the only registry id the grammar then admits.
        Raises `OutsideLedgerGrammar` (nothing claimed, nothing written) when a field is outside
        the grammar, `ValueError` without a chain, `AuditWriteFailed` when the chain kept moving.
        """
        chain = chain_id or request_id or (subject_chain(subject_id) if subject_id else None)
        if chain is None:
            raise ValueError("An audit event needs a request, a subject or an explicit chain.")
        counts = counts or {}
        check_event(
            chain_id=chain,
            step=step,
            target=target,
            outcome=outcome,
            actor=actor,
            request_id=request_id,
            subject_id=subject_id,
            counts=counts,
            attests=attests,
            processor=processor,
        )
        remembered = CLAIMED_HEADS.get(self.table, chain)
        for _ in range(MAX_CLAIM_ATTEMPTS):
            head = remembered or self.chains.head(chain) or {}
            remembered = None  # a refused claim reads the table next time
            event = AuditEvent(
                event_id=str(uuid.uuid4()),
                chain_id=chain,
                seq=int(head.get("seq", 0)) + 1,
                request_id=request_id,
                subject_id=subject_id,
                step=step,
                target=target,
                outcome=outcome,
                counts={name: int(value) for name, value in counts.items()},
                at=now_iso(),
                actor=actor,
                prev_hash=str(head.get("hash", GENESIS)),
                attests=attests,
            ).sealed()
            if self._claim(event, head):
                try:
                    self._put(event.key(), asdict(event))
                except Exception:
                    self._release(event, head)  # else the chain would show a gap at this seq for good
                    raise
                # Remembered as the item the claim wrote: a later release puts it back whole.
                CLAIMED_HEADS.put(self.table, chain, _head_item(event))
                self._copy(event)
                return event
        raise AuditWriteFailed(f"The audit chain {chain} kept moving; the event was not written.")

    def _copy(self, event: AuditEvent) -> None:
        """Send the written event to every sink (CloudTrail Lake); a sink's failure never fails the record.

        The Object Lock bucket is the ledger: the event is in it, chained, before any copy is made.
        Raising here would make the caller retry and write the same fact twice under a new seq, so a
        failed copy is logged (event id, chain and the error's type only) for the operator to re-send.
        """
        for sink in self.sinks:
            try:
                sink.send(event)
            except Exception as error:  # any failure of a copy: the ledger keeps the event
                log.warning(
                    "An audit event is in the ledger but its copy failed",
                    extra={"event_id": event.event_id, "chain_id": event.chain_id, "error": type(error).__name__},
                )

    def head(self, chain_id: str) -> dict[str, Any] | None:
        """The chain's head item `{chain_id, seq, hash, updated_at}` (consistent read), or None."""
        return self.chains.head(chain_id)

    def put_document(self, chain_id: str, kind: str, document: dict[str, Any]) -> str:
        """File a document (a certificate) beside the chain under its SHA-256, which an event then attests.

        Named by digest, a retried step files a second document rather than a second version of one.
        Raises `OutsideLedgerGrammar` for a chain or kind outside the grammar.
        """
        check_document(chain_id, kind)
        sha256 = hashlib.sha256(canonical(document)).hexdigest()
        self._put(document_key(chain_id, f"{kind}-{sha256}"), document)
        return sha256

    def _claim(self, event: AuditEvent, head: dict[str, Any]) -> bool:
        """Take the next seq of the chain: the head item becomes `_head_item(event)` if `head` is still it."""
        previous = int(head["seq"]) if head else None
        return self.chains.claim(event.chain_id, event.seq, event.hash, event.at, previous)

    def _release(self, event: AuditEvent, head: dict[str, Any]) -> None:
        """Give back a claimed seq whose event could not be written, if nobody claimed past it.

        The claim (DynamoDB) and the event (S3) are two writes; when the second fails, putting the
        head back lets the retried step write this seq again instead of leaving a hole the
        verifier reports as a missing event. Best effort: if this fails too, the gap remains.
        """
        try:
            self.chains.release(event.chain_id, event.seq, head or None)
        except Exception:
            log.exception("The audit chain's claim could not be released")

    def _put(self, key: str, value: dict[str, Any]) -> None:
        self.objects.put(key, canonical(value))
