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
table first; the condition on `seq` refuses a stale memory and answers the current head
(`ReturnValuesOnConditionCheckFailure=ALL_OLD`), so the cache saves a read per event, a refused
claim costs one call, and neither can fork a chain. A refused claim waits before its next try,
exponentially longer and fully jittered (`ClaimBackoff`), at most `max_attempts` tries;
past it the record raises `AuditWriteFailed` and nothing of the event was written.

The shared families — a function's refusals that name nobody (`refusals/<function>`) and a
processor's agreements and refusals (`processors/<id>`) — are written as `CHAIN_SHARDS` shards
(`<family>/<nn>`, `custody.audit.grammar`): a writer keeps to one shard per thread (one per warm
Lambda environment) and moves to another after a refused claim, so a burst's writers rarely meet
on one head. Each shard is a chain of its own; the auditor reads and verifies every shard.

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
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

from custody.audit.grammar import (
    CHAIN_SHARDS,
    SHARD_NAMES,
    RegisteredProcessor,
    check_document,
    check_event,
    is_shared_chain,
)
from custody.audit.grammar import OutsideLedgerGrammar as OutsideLedgerGrammar
from custody.declared.clock import now_iso
from custody.declared.ids import is_uuid
from custody.declared.settings import Settings
from custody.platform.transient import THROTTLING_CODES, is_transient
from custody.stores.audit_chains import TABLE as AUDIT_CHAINS
from custody.stores.audit_chains import AuditChainsTable, Claim
from custody.stores.ledger_bucket import LedgerBucket
from custody.stores.subjects import SubjectRegistry

log = logging.getLogger(__name__)

CHAINS_TABLE: Final = AUDIT_CHAINS  # (custody.stores.audit_chains)
LEDGER_PREFIX: Final = "ledger"
GENESIS: Final = "0" * 64
DOCUMENTS: Final = "documents"
HEAD_CACHE_ENTRIES: Final = 256


@dataclass(frozen=True)
class ClaimBackoff:
    """How a writer waits between tries of one event: capped exponential backoff with full jitter.

    After its `n`-th refused try a writer sleeps a uniform draw from `[0, min(cap_seconds,
    base_seconds * 2**n)]` ("full jitter": AWS Architecture Blog, "Exponential Backoff And Jitter"),
    and gives up after `max_attempts` tries. A try is refused only when the head moved since the
    writer learned it, and the refusal tells it the head (`Claim.head`), so every refused try but a
    first one from a stale memory means another event was appended meanwhile: an event is lost only
    if its chain took `max_attempts - 1` other events while it tried. Its waits add up to at most
    `max_wait_seconds()` (nominal). `time_scale` multiplies every real sleep: 1 in production, a
    fraction in tests and benchmarks (as the local stack scales its retry waits); the tries and their
    count do not depend on it.

    The defaults: 64 tries; waits from 40 ms up to 0.4 s, about eighty claims' round trips, so a few
    dozen writers on one head spread out; about 25 s of waiting at most, inside an API function's 29 s.
    """

    base_seconds: float = 0.02
    cap_seconds: float = 0.4
    max_attempts: int = 64
    time_scale: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        """The nominal wait, in seconds, after the `attempt`-th refused try (1-based)."""
        return random.uniform(0, self.ceiling(attempt))  # noqa: S311 - jitter, not secrecy

    def ceiling(self, attempt: int) -> float:
        """The longest wait, in seconds, after the `attempt`-th refused try."""
        return min(self.cap_seconds, self.base_seconds * float(2**attempt))

    def max_wait_seconds(self) -> float:
        """The longest a writer can wait in all, in nominal seconds: every wait at its ceiling."""
        return sum(self.ceiling(attempt) for attempt in range(1, self.max_attempts))

    def pause(self, seconds: float) -> None:
        """Sleep `seconds` (nominal) times `time_scale`."""
        if seconds > 0 and self.time_scale > 0:
            self.sleep(seconds * self.time_scale)


CLAIM_BACKOFF: Final = ClaimBackoff()
# An event's put is tried this often (botocore retries each try itself) before the claim is given back.
PUT_ATTEMPTS: Final = 3


class _Shard(threading.local):
    """The shard this thread writes the shared families to: drawn on first use, redrawn after a refused claim."""

    name: str | None = None

    def current(self) -> str:
        if self.name is None:
            self.move()
        assert self.name is not None
        return self.name

    def move(self) -> None:
        self.name = SHARD_NAMES[random.randrange(CHAIN_SHARDS)]  # noqa: S311 - spreading load, not secrecy


SHARD: Final = _Shard()


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
    """The ledger could not take the event; safe to retry.

    Raised when the chain head kept moving through all of `ClaimBackoff.max_attempts` tries
    (nothing claimed, nothing written), or when the event's object could not be put: a transient
    S3 failure on every try, chained as the cause. Then the claim was given back if no try can
    have stored the object; if a try's answer was lost, the claim is kept — the event is in the
    chain if S3 stored it, else `verify` reports a gap at its seq. A retry records the event afresh
    under a newly claimed seq: claims are conditional on the head, so no retry can fork a chain or
    put two events at one seq. The erasure workflow's Task states retry it by this name.
    """


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


def _unwritten(error: BaseException) -> bool:
    """Whether a failed put certainly stored nothing: a throttle, a conflict, or no connection made."""
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return True
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") in THROTTLING_CODES or _put_conflict(error)


def _put_conflict(error: BaseException) -> bool:
    """S3's 409 `ConditionalRequestConflict`: another create of the key was in flight; worth a retry."""
    response = getattr(error, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "ConditionalRequestConflict")


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
    backoff: ClaimBackoff = CLAIM_BACKOFF
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
        target, actor or a `sharing:` purpose): the only registry id the grammar then admits. A
        shared family (`refusals/<function>`, `processors/<id>`) is written to one of its shards;
        the event returned names the shard. Raises `OutsideLedgerGrammar` (nothing claimed, nothing
        written) when a field is outside the grammar, `ValueError` without a chain, and
        `AuditWriteFailed` (nothing written) when the chain kept moving through the backoff's
        budget or the event's object could not be put.
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
        if is_shared_chain(chain, processor):
            chain = f"{chain}/{SHARD.current()}"

        def build(head: dict[str, Any]) -> AuditEvent:
            return AuditEvent(
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

        event, head = self._claim_next(chain, build)
        self._write(event, head)
        # Remembered as the item the claim wrote: a later release puts it back whole.
        CLAIMED_HEADS.put(self.table, chain, _head_item(event))
        self._copy(event)
        return event

    def _claim_next(
        self, chain: str, build: Callable[[dict[str, Any]], AuditEvent]
    ) -> tuple[AuditEvent, dict[str, Any]]:
        """Claim the chain's next seq for an event `build` makes over a head: `(event, head it follows)`.

        The first try builds over the head this process remembers (else reads it); a refused try
        learns the head from the refusal itself and waits (`backoff`) before the next. Raises
        `AuditWriteFailed` after `backoff.max_attempts` refused tries; DynamoDB errors other than the
        refusal pass through.
        """
        remembered = CLAIMED_HEADS.get(self.table, chain)
        head = remembered if remembered is not None else self.chains.head(chain) or {}
        for attempt in range(1, self.backoff.max_attempts + 1):
            event = build(head)
            answer = self._claim(event, head)
            if answer.won:
                return event, head
            head = answer.head or {}  # the head that refused us; none: the chain was given back to nothing
            SHARD.move()  # this thread's next event of a shared family goes to another shard
            if attempt < self.backoff.max_attempts:
                self.backoff.pause(self.backoff.delay(attempt))
        raise AuditWriteFailed(f"The audit chain {chain} kept moving; the event was not written.")

    def _claim(self, event: AuditEvent, head: dict[str, Any]) -> Claim:
        """Take the next seq of the chain: the head item becomes `_head_item(event)` if `head` is still it.

        A transient DynamoDB failure leaves the outcome unknown (the write may have been applied and
        its answer lost): the head is read once, and the claim is ours if it names this event.
        """
        previous = int(head["seq"]) if head else None
        try:
            return self.chains.claim(event.chain_id, event.seq, event.hash, event.at, previous)
        except Exception as error:
            if not is_transient(error):
                raise
            current = self.chains.head(event.chain_id)
            if current is not None and (current.get("seq"), current.get("hash")) == (event.seq, event.hash):
                return Claim(True)
            if (current or {}).get("seq") == previous:
                raise  # the head is as we read it: the write did not happen, and DynamoDB keeps failing
            return Claim(False, current)

    def _write(self, event: AuditEvent, head: dict[str, Any]) -> None:
        """Put the claimed event's object, trying `PUT_ATTEMPTS` times; raise if it cannot be.

        Every try creates the key or finds it there (`LedgerBucket.put`), so trying again never adds
        a version. The claim is given back only when no try can have stored the object (S3 refused it
        or throttled, or no connection was made): a try whose answer was lost (a 5xx, a read timeout)
        may have stored it, and giving its seq to another event would fork the chain — the claim is
        kept, and if the object really is missing the chain shows a gap, which `verify` names. A
        transient failure on every try raises `AuditWriteFailed` from the last; any other failure is
        re-raised as it is (retrying would not help).
        """
        body = canonical(asdict(event))
        uncertain = False
        for attempt in range(1, PUT_ATTEMPTS + 1):
            try:
                self.objects.put(event.key(), body)
                return
            except Exception as error:
                retryable = is_transient(error) or _put_conflict(error)
                uncertain = uncertain or (retryable and not _unwritten(error))
                if not retryable or attempt == PUT_ATTEMPTS:
                    if not uncertain:
                        self._release(event, head)
                    if not retryable:
                        raise
                    raise AuditWriteFailed(
                        f"The audit event {event.event_id} of chain {event.chain_id} could not be put."
                    ) from error
                self.backoff.pause(self.backoff.delay(attempt))

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

        Named by digest and put as a create: a retried step filing the same document leaves one version,
        a different one files a second document. Returns the SHA-256 (64 hex digits). Raises
        `OutsideLedgerGrammar` for a chain or kind outside the grammar, botocore's errors when S3 refuses.
        """
        check_document(chain_id, kind)
        sha256 = hashlib.sha256(canonical(document)).hexdigest()
        self.objects.put(document_key(chain_id, f"{kind}-{sha256}"), canonical(document))
        return sha256

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
