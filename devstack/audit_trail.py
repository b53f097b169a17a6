"""What an auditor reads and checks: the ledger's object versions, the chain head, the certificate
and the Step Functions executions of a request.

Reading lists every *version* under the chain's prefix, so an overwrite (a second version of a
key) or a delete marker is visible even though Object Lock keeps the original. Verification is
pure: `verify(chain)` recomputes every hash and link and names each problem it finds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.audit.ledger import CHAINS_TABLE, DOCUMENTS, GENESIS, LEDGER_PREFIX, AuditEvent, canonical, digest
from custody.declared import naming
from custody.declared.settings import Settings
from devstack.provision import ClientFactory

WORKFLOW_ACTOR: Final = "erasure-workflow"
EVENT_NAME = re.compile(r"(?P<seq>\d{8})-(?P<event_id>[0-9a-f-]{36})\.json")
CERTIFICATE_NAME = re.compile(r"certificate(-[0-9a-f]{64})?\.json")


@dataclass(frozen=True)
class StoredVersion:
    key: str
    version_id: str
    at: datetime
    body: bytes


@dataclass(frozen=True)
class Finding:
    kind: str  # gap, fork, reordered, altered, extra_version, deleted, foreign, head, certificate, history
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class HistoryEvent:
    at: datetime
    execution: str
    kind: str
    state: str
    step: str | None = None
    target: str | None = None  # the store of an erase_store task


@dataclass(frozen=True)
class Execution:
    name: str
    arn: str
    status: str
    started: datetime
    events: tuple[HistoryEvent, ...]

    def succeeded_steps(self) -> Counter[str]:
        """How often each step's function returned: `TaskSucceeded`, or `TaskSubmitted` for a callback
        task (`.waitForTaskToken`), whose function returns before the wait it starts."""
        return Counter(event.step for event in self.events if event.kind in STEP_RETURNED and event.step)


@dataclass
class Chain:
    chain_id: str
    events: dict[str, list[StoredVersion]] = field(default_factory=dict)  # key -> versions, oldest first
    documents: dict[str, list[StoredVersion]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # keys whose latest entry is a delete marker
    foreign: list[str] = field(default_factory=list)
    head: dict[str, Any] | None = None
    head_readable: bool = True
    executions: list[Execution] = field(default_factory=list)

    def latest_events(self) -> list[AuditEvent]:
        found = []
        for versions in self.events.values():
            parsed = _parse(versions[-1].body)
            if parsed is not None:
                found.append(AuditEvent.from_json(parsed))
        return sorted(found, key=lambda event: (event.seq, event.at))

    def certificates(self) -> dict[str, dict[str, Any]]:
        """Every certificate filed beside the chain, by the SHA-256 of its canonical JSON."""
        found: dict[str, dict[str, Any]] = {}
        for key, versions in self.documents.items():
            if CERTIFICATE_NAME.fullmatch(key.rsplit("/", 1)[-1]):
                document = _parse(versions[-1].body)
                if document is not None:
                    found[digest_of(document)] = document
        return found


@dataclass(frozen=True)
class Verification:
    chain_id: str
    events: int
    head_seq: int
    head_hash: str
    certificate_digest: str | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


def digest_of(document: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(canonical(document)).hexdigest()


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --- reading ---------------------------------------------------------------------------------


class AuditorReader:
    """Reads with whatever credentials the clients carry: the auditor's role in AWS."""

    def __init__(self, settings: Settings, clients: ClientFactory) -> None:
        self.settings = settings
        self.s3 = clients("s3")
        self.sfn = clients("stepfunctions")
        self.dynamodb = clients("dynamodb")
        self.bucket = settings.bucket(naming.AUDIT_BUCKET)

    def chain(self, chain_id: str, *, with_history: bool = True) -> Chain:
        chain = Chain(chain_id)
        for key, versions, deleted in self._versions(f"{LEDGER_PREFIX}/{chain_id}/"):
            _file(chain, key, versions, deleted)
        self._head(chain)
        if with_history:
            chain.executions = self.executions(chain_id)
        return chain

    def chain_ids(self) -> list[str]:
        """Every chain in the bucket (one listing of `ledger/`, every version)."""
        found: set[str] = set()
        for key, _, _ in self._versions(f"{LEDGER_PREFIX}/"):
            found.add(_chain_of(key))
        return sorted(found)

    def _versions(self, prefix: str) -> Iterator[tuple[str, list[StoredVersion], bool]]:
        listed: dict[str, list[dict[str, Any]]] = {}
        latest_marker: set[str] = set()
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Versions", []):
                listed.setdefault(entry["Key"], []).append(entry)
            for marker in page.get("DeleteMarkers", []):
                listed.setdefault(marker["Key"], [])
                if marker.get("IsLatest"):
                    latest_marker.add(marker["Key"])
        for key in sorted(listed):
            # S3 lists a key's versions newest first; reversed and stably sorted, ties keep that order.
            entries = sorted(reversed(listed[key]), key=lambda entry: entry["LastModified"])
            versions = [
                StoredVersion(
                    key,
                    entry["VersionId"],
                    entry["LastModified"],
                    self.s3.get_object(Bucket=self.bucket, Key=key, VersionId=entry["VersionId"])["Body"].read(),
                )
                for entry in entries
            ]
            yield key, versions, key in latest_marker

    def _head(self, chain: Chain) -> None:
        try:
            table = self.settings.table(CHAINS_TABLE)
            key = {"chain_id": {"S": chain.chain_id}}
            item = self.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in UNREADABLE:
                raise
            chain.head_readable = False
            return
        chain.head = {"seq": int(item["seq"]["N"]), "hash": item["hash"]["S"]} if item else None

    def executions(self, request_id: str) -> list[Execution]:
        """The request's execution and its re-runs (`<id>-rerun-<n>`), found by name: O(this request)."""
        machine = self.settings.erasure_state_machine_arn
        if not machine or not _is_request_id(request_id):
            return []
        base = machine.replace(":stateMachine:", ":execution:")
        found = []
        for attempt in range(0, 100):
            name = request_id if attempt == 0 else f"{request_id}-rerun-{attempt}"
            try:
                described = self.sfn.describe_execution(executionArn=f"{base}:{name}")
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
                    raise
                if attempt > 0:
                    break
                continue
            found.append(
                Execution(
                    name,
                    described["executionArn"],
                    described["status"],
                    described["startDate"],
                    tuple(self._history(name, described["executionArn"])),
                )
            )
        return found

    def _history(self, name: str, arn: str) -> Iterator[HistoryEvent]:
        raw: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            raw.extend(page["events"])
        by_id = {event["id"]: event for event in raw}
        for event in raw:
            kind = event["type"]
            if kind == "TaskSucceeded" and _is_callback(event):
                kind = CALLBACK_COMPLETED  # the step's run was its TaskSubmitted; this is the wait's end
            state = str(event.get("stateEnteredEventDetails", {}).get("name", ""))
            step, target = _task_of(event, by_id) if kind.startswith("Task") else (None, None)
            if kind.endswith("StateEntered") or kind.startswith("Execution") or kind in TASK_OUTCOMES:
                yield HistoryEvent(event["timestamp"], name, kind, state, step, target)


UNREADABLE: Final = frozenset({"AccessDeniedException", "ResourceNotFoundException"})
CALLBACK_COMPLETED: Final = "CallbackCompleted"
TASK_OUTCOMES: Final = frozenset({"TaskSucceeded", "TaskSubmitted", "TaskFailed", "TaskTimedOut", CALLBACK_COMPLETED})
STEP_RETURNED: Final = frozenset({"TaskSucceeded", "TaskSubmitted"})


def _is_callback(event: dict[str, Any]) -> bool:
    return str(event.get("taskSucceededEventDetails", {}).get("resource", "")).endswith(".waitForTaskToken")


def _task_of(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> tuple[str | None, str | None]:
    """The erasure step (and store) of a task event: follow it back to its TaskScheduled parameters."""
    current: dict[str, Any] | None = event
    for _ in range(4):
        if current is None:
            break
        details = current.get("taskScheduledEventDetails")
        if details is not None:
            try:
                payload = json.loads(details.get("parameters", "{}")).get("Payload", {})
            except ValueError:
                break
            step, store = payload.get("step"), payload.get("store")
            return (str(step) if step else None), (str(store) if store else None)
        current = by_id.get(int(current.get("previousEventId", 0)))
    return None, None


def _is_request_id(chain_id: str) -> bool:
    return "/" not in chain_id


def _chain_of(key: str) -> str:
    path = key[len(LEDGER_PREFIX) + 1 :].rsplit("/", 1)[0]
    return path.removesuffix(f"/{DOCUMENTS}")


def _file(chain: Chain, key: str, versions: list[StoredVersion], deleted: bool) -> None:
    relative = key[len(f"{LEDGER_PREFIX}/{chain.chain_id}/") :]
    if deleted:
        chain.deleted.add(key)
    if relative.startswith(f"{DOCUMENTS}/"):
        chain.documents[key] = versions
    elif EVENT_NAME.fullmatch(relative) and versions:
        chain.events[key] = versions
    elif "/" not in relative:
        chain.foreign.append(key)


# --- verifying -------------------------------------------------------------------------------


def verify(chain: Chain) -> Verification:
    findings: list[Finding] = []
    findings += _object_findings(chain)
    events = chain.latest_events()
    findings += _link_findings(chain, events)
    last = events[-1] if events else None
    findings += _head_findings(chain, last)
    certificate_digest, certificate_findings = _certificate_findings(chain, events)
    findings += certificate_findings
    findings += _history_findings(chain, events)
    return Verification(
        chain.chain_id,
        len(events),
        last.seq if last else 0,
        last.hash if last else GENESIS,
        certificate_digest,
        tuple(findings),
    )


def _object_findings(chain: Chain) -> list[Finding]:
    findings = []
    for key in sorted(chain.deleted):
        findings.append(Finding("deleted", f"{key} is hidden by a delete marker (its locked versions remain)"))
    for key, versions in {**chain.events, **chain.documents}.items():
        if len(versions) > 1:
            ids = ", ".join(version.version_id for version in versions[1:])
            findings.append(Finding("extra_version", f"{key} has {len(versions)} versions: written again as {ids}"))
    findings += [Finding("foreign", f"{key} is not an audit event") for key in chain.foreign]
    return findings


def _link_findings(chain: Chain, events: list[AuditEvent]) -> list[Finding]:
    findings = []
    by_hash = {event.hash: event for event in events}
    for key, versions in chain.events.items():
        name = EVENT_NAME.fullmatch(key.rsplit("/", 1)[-1])
        assert name is not None
        body = _parse(versions[-1].body)
        if body is None:
            findings.append(Finding("altered", f"{key} is not a JSON event"))
            continue
        event = AuditEvent.from_json(body)
        if digest(event.body()) != event.hash:
            findings.append(Finding("altered", f"event seq {event.seq} ({key}): its content does not match its hash"))
        if (int(name["seq"]), name["event_id"], chain.chain_id) != (event.seq, event.event_id, event.chain_id):
            findings.append(
                Finding("reordered", f"{key} holds event seq {event.seq} of chain {event.chain_id}: moved or swapped")
            )
    seqs = Counter(event.seq for event in events)
    for seq, count in sorted(seqs.items()):
        if count > 1:
            findings.append(Finding("fork", f"{count} events claim seq {seq}"))
    expected = set(range(1, max(seqs, default=0) + 1))
    for seq in sorted(expected - set(seqs)):
        findings.append(Finding("gap", f"event seq {seq} is missing"))
    previous: AuditEvent | None = None
    for event in events:
        wanted = previous.hash if previous is not None and previous.seq == event.seq - 1 else None
        if event.seq == 1:
            wanted = GENESIS
        if wanted is not None and event.prev_hash != wanted:
            follows = by_hash.get(event.prev_hash)
            if follows is not None:
                findings.append(
                    Finding("reordered", f"event seq {event.seq} follows seq {follows.seq}, not seq {event.seq - 1}")
                )
            else:
                findings.append(
                    Finding("altered", f"event seq {event.seq} does not link to seq {event.seq - 1}'s hash")
                )
        if previous is not None and event.at < previous.at:
            findings.append(Finding("reordered", f"event seq {event.seq} is dated before seq {previous.seq}"))
        previous = event
    return findings


def _head_findings(chain: Chain, last: AuditEvent | None) -> list[Finding]:
    if not chain.head_readable or (chain.head is None and last is None):
        return []
    if chain.head is None:
        return [Finding("head", "the chain has events but no head in the chain table")]
    if last is None or (chain.head["seq"], chain.head["hash"]) != (last.seq, last.hash):
        shown = f"seq {last.seq}" if last else "no event"
        return [Finding("head", f"the chain head is seq {chain.head['seq']} but the ledger ends at {shown}")]
    return []


def _certificate_findings(chain: Chain, events: list[AuditEvent]) -> tuple[str | None, list[Finding]]:
    certifications = [event for event in events if event.step == "certify" and event.outcome == "ok"]
    certificates = chain.certificates()
    if not certifications:
        orphans = [Finding("certificate", f"certificate {sha[:16]}… is attested by no event") for sha in certificates]
        return None, orphans
    attested = certifications[0].attests
    certificate = certificates.get(attested or "")
    if certificate is None:
        seq = certifications[0].seq
        return attested, [Finding("certificate", f"no filed certificate has the digest event seq {seq} attests")]
    findings = []
    cited = certificate.get("ledger") or {}
    seq, head_hash = int(cited.get("head_seq", -1)), str(cited.get("head_hash", ""))
    by_seq = {event.seq: event for event in events}
    cited_event = by_seq.get(seq)
    if seq != 0 and (cited_event is None or cited_event.hash != head_hash):
        findings.append(Finding("certificate", f"the certificate cites seq {seq} with a hash the ledger does not hold"))
    follower = by_seq.get(seq + 1)
    if follower is None or follower.step != "certify" or follower.attests != attested:
        findings.append(Finding("certificate", f"the event after the cited seq {seq} is not the certificate's own"))
    executions = {execution.arn: execution for execution in chain.executions}
    if chain.executions:
        execution = executions.get(str(certificate.get("execution_arn")))
        if execution is None:
            findings.append(Finding("certificate", "the certificate names an execution this request does not have"))
        elif execution.status != "SUCCEEDED":
            findings.append(Finding("certificate", f"the certificate's execution is {execution.status}"))
    return attested, findings


def _history_findings(chain: Chain, events: list[AuditEvent]) -> list[Finding]:
    if not chain.executions:
        return []
    history: Counter[str] = Counter()
    for execution in chain.executions:
        history.update(execution.succeeded_steps())
    ledger = Counter(
        event.step for event in events if event.actor == WORKFLOW_ACTOR and event.outcome in ("ok", "failed")
    )
    findings = []
    for step in sorted(set(history) | set(ledger)):
        if history[step] != ledger[step]:
            findings.append(
                Finding(
                    "history",
                    f"step {step} succeeded {history[step]} times in the execution history; "
                    f"the ledger records {ledger[step]}",
                )
            )
    return findings
