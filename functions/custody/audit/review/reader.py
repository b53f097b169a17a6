"""Reading what an auditor checks, with the clients given.

Every version of the ledger's objects under a chain's prefix, the chain head and the Step Functions
executions of the request.

Listing every *version* makes an overwrite (a second version of a key) or a delete marker visible
even though Object Lock keeps the original. A shared family (`refusals/<function>`,
`processors/<id>`) is written as `CHAIN_SHARDS` shards, each a chain with its own head: `chains`
reads every one of them (and the family's own chain, written before it was sharded), so an event
missing from any shard is a finding of that shard. `AuditorReader` raises botocore's `ClientError` for
what it cannot read (the `ops` command turns it into one line), except the chain head, which an
auditor without access to the chain table simply does not see (`Chain.head_readable`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.audit.grammar import REFUSAL_CHAINS, SHARDED_KINDS, shard_chains, shard_of
from custody.audit.ledger import CHAINS_TABLE, DOCUMENTS, LEDGER_PREFIX
from custody.audit.review.chain import EVENT_NAME, Chain, Execution, HistoryEvent, StoredVersion
from custody.declared import naming
from custody.declared.settings import Settings

# `clients("s3")` returns an S3 client; where the calls go and as whom is the caller's business
# (`ops.clients.session_clients` for the CLI, `lambda_clients` behind the API).
ClientFactory = Callable[[str], Any]


def lambda_clients() -> ClientFactory:
    """The function's own shared clients (`custody.platform.aws`), by the service names the reader asks for."""
    from custody.platform.aws import clients

    return lambda service: getattr(clients, service)()


class AuditorReader:
    """Reads with whatever credentials the clients carry: the auditor's role in AWS, the `audit` function's."""

    def __init__(self, settings: Settings, clients: ClientFactory) -> None:
        self.settings = settings
        self.s3 = clients("s3")
        self.sfn = clients("stepfunctions")
        self.dynamodb = clients("dynamodb")
        self.bucket = settings.bucket(naming.AUDIT_BUCKET)

    def chain(self, chain_id: str, *, with_history: bool = True) -> Chain:
        """Every version under `ledger/<chain_id>/`, the chain head and (`with_history`) the executions.

        An unknown id gives an empty `Chain`; a refused or missing bucket raises `ClientError`.
        """
        chain = Chain(chain_id)
        prefix = f"{LEDGER_PREFIX}/{chain_id}/"
        for key, versions, deleted in self._versions(prefix, lambda key: _belongs(key[len(prefix) :])):
            if _belongs(key[len(prefix) :]):
                _file(chain, key, versions, deleted)
        self._head(chain)
        if with_history:
            chain.executions = self.executions(chain_id)
        return chain

    def chains(self, chain_id: str, *, with_history: bool = True) -> list[Chain]:
        """The chain `chain_id`; for a shared family, its own chain and each of its shards.

        Only the shards that hold anything or have a head (an empty shard without a head was never written).
        """
        if not is_family(chain_id):
            return [self.chain(chain_id, with_history=with_history)]
        found = [
            self.chain(chain_id, with_history=False),
            *(self.chain(shard, with_history=False) for shard in shard_chains(chain_id)),
        ]
        return [chain for chain in found if chain.head is not None or not _empty(chain)]

    def chain_ids(self) -> list[str]:
        """Every chain in the bucket (one listing of `ledger/`, every version), and every shard of each family.

        The shared families found there or declared (every function's refusals), written or not.
        """
        found: set[str] = set(REFUSAL_CHAINS)
        for key, _, _ in self._versions(f"{LEDGER_PREFIX}/", lambda key: False):
            chain_id = _chain_of(key)
            sharded = shard_of(chain_id)
            found.add(sharded[0] if sharded else chain_id)
        expanded = set()
        for chain_id in found:
            expanded.add(chain_id)
            if is_family(chain_id):
                expanded.update(shard_chains(chain_id))
        return sorted(expanded)

    def _versions(self, prefix: str, wanted: Callable[[str], bool]) -> Iterator[tuple[str, list[StoredVersion], bool]]:
        """Each key under `prefix` with its versions, oldest first, and whether a delete marker hides it.

        Bodies are read only for the keys `wanted` admits (the others come with no versions).
        """
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
            if not wanted(key):
                yield key, [], key in latest_marker
                continue
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
        found = []
        for attempt in range(0, 100):
            name = naming.execution_name(request_id, attempt)
            try:
                described = self.sfn.describe_execution(executionArn=naming.execution_arn(machine, name))
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


def is_family(chain_id: str) -> bool:
    """Whether `chain_id` has the shape of a shared family the ledger writes as shards.

    (`refusals/<function>`, `processors/<id>`), not of one of its shards.
    """
    kind, slash, rest = chain_id.partition("/")
    return bool(slash) and kind in SHARDED_KINDS and bool(rest) and "/" not in rest


def _belongs(relative: str) -> bool:
    """Whether a key (relative to a chain's prefix) is the chain's own: not a key of one of its shards."""
    return "/" not in relative or relative.startswith(f"{DOCUMENTS}/")


def _empty(chain: Chain) -> bool:
    return not (chain.events or chain.documents or chain.deleted or chain.foreign)


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
