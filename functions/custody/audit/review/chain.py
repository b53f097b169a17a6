"""What an auditor holds of one chain, and the verdict on it.

The ledger's object versions, its head, its certificates and the Step Functions executions of the request.

Plain data, no AWS: `custody.audit.review.reader` fills a `Chain`, `custody.audit.review.verification` judges it,
`ops.auditor.report` shows both.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from custody.audit.ledger import AuditEvent, canonical

EVENT_NAME: Final = re.compile(r"(?P<seq>\d{8})-(?P<event_id>[0-9a-f-]{36})\.json")
CERTIFICATE_NAME: Final = re.compile(r"certificate(-[0-9a-f]{64})?\.json")
# A step's function returned: `TaskSucceeded`, or `TaskSubmitted` for a callback task.
STEP_RETURNED: Final = frozenset({"TaskSucceeded", "TaskSubmitted"})


@dataclass(frozen=True)
class StoredVersion:
    """One version of one object under `ledger/`: its key, S3 version id, time written and body."""

    key: str
    version_id: str
    at: datetime
    body: bytes


@dataclass(frozen=True)
class Finding:
    """One problem verification found; printed `kind: detail`."""

    kind: str  # gap, fork, reordered, altered, extra_version, deleted, foreign, head, certificate, history, retention
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class HistoryEvent:
    """An execution history event an auditor looks at: a state entered, a task outcome, the execution's."""

    at: datetime
    execution: str
    kind: str
    state: str
    step: str | None = None
    target: str | None = None  # the store of a task that names one


@dataclass(frozen=True)
class Execution:
    """One execution of the erasure workflow for a request (`<id>` or `<id>-rerun-<n>`) and its history."""

    name: str
    arn: str
    status: str
    started: datetime
    events: tuple[HistoryEvent, ...]

    def succeeded_steps(self) -> Counter[str]:
        """How often each step's function returned.

        `TaskSucceeded`, or `TaskSubmitted` for a callback task (`.waitForTaskToken`), whose function
        returns before the wait it starts.
        """
        return Counter(str(event.step) for event in self.events if event.kind in STEP_RETURNED and event.step)


@dataclass
class Chain:
    """Everything stored under `ledger/<chain_id>/`, its head and the request's executions.

    Events and documents by key, every version; the chain head from `audit_chains`
    (`{"seq": int, "hash": str}`, or None).
    """

    chain_id: str
    events: dict[str, list[StoredVersion]] = field(default_factory=dict)  # key -> versions, oldest first
    documents: dict[str, list[StoredVersion]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # keys whose latest entry is a delete marker
    foreign: list[str] = field(default_factory=list)
    head: dict[str, Any] | None = None
    head_readable: bool = True
    executions: list[Execution] = field(default_factory=list)

    def latest_events(self) -> list[AuditEvent]:
        """The latest version of each event object that parses, by (seq, time)."""
        found = []
        for versions in self.events.values():
            event = parse_event(versions[-1].body)
            if event is not None:
                found.append(event)
        return sorted(found, key=lambda event: (event.seq, event.at))

    def certificates(self) -> dict[str, dict[str, Any]]:
        """Every certificate filed beside the chain, by the SHA-256 of its canonical JSON."""
        found: dict[str, dict[str, Any]] = {}
        for key, versions in self.documents.items():
            if CERTIFICATE_NAME.fullmatch(key.rsplit("/", 1)[-1]):
                document = parse_object(versions[-1].body)
                if document is not None:
                    found[digest_of(document)] = document
        return found


@dataclass(frozen=True)
class Verification:
    """The verdict on a chain: its length and head, the certificate it attests, and every finding."""

    chain_id: str
    events: int
    head_seq: int
    head_hash: str
    certificate_digest: str | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """Whether verification found nothing."""
        return not self.findings


def digest_of(document: dict[str, Any]) -> str:
    """SHA-256 (hex) of a document's canonical JSON: what a `certify` event attests."""
    return hashlib.sha256(canonical(document)).hexdigest()


def parse_event(body: bytes) -> AuditEvent | None:
    """A stored body as an audit event, or None when it is not one (what verification reports as altered)."""
    try:
        return AuditEvent.from_json(parse_object(body))
    except ValueError:
        return None


def parse_object(body: bytes) -> dict[str, Any] | None:
    """A stored body as a JSON object, or None when it is not one (what verification reports as altered)."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
