"""The erasure workflow's steps: what `statemachines/erasure.asl.json` runs, one function each.

Every step takes ids and returns counts and statuses — never a personal value — because Step
Functions keeps its history for 90 days and it cannot be edited. Every step is idempotent: a
re-run, a retry or a redrive after a crash in any state ends in the same verified state.

The scope of a request (the data-map categories to erase) is read from the request record by
Freeze, which returns it into the workflow's state; the steps after it take the scope and the
reason from there rather than reading the record again. The history names the categories but
never any data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from botocore.exceptions import ClientError

from custody.audit.ledger import GENESIS, AuditLedger
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.declared import clock, datamap
from custody.declared.clock import now_iso
from custody.declared.settings import Settings
from custody.erasure.requests import ErasureReason, RequestRegistry, RequestStatus
from custody.platform.aws import clients
from custody.retention import schedule
from custody.stores import dynamo
from custody.stores.identities import CustomerIdentity
from custody.stores.subjects import SubjectRegistry, SubjectStatus, check_subject_id
from custody.subprocessors.acknowledgements import CONFIRMED, NOTIFIED, SEAL_MAP, UNCONFIRMED
from custody.subprocessors.registry import ProcessorRegistry
from custody.subprocessors.task_tokens import TaskTokenSeals

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

BATCH_WRITE_MAX: Final = 25
DELETE_OBJECTS_MAX: Final = 1000
UNPROCESSED_RETRIES: Final = 5
LEDGER_TABLE: Final = "erasure_ledger"
DEFAULT_ACK_TIMEOUT_SECONDS: Final = 30 * 86_400  # a processor without an agreement on file


class ErasureError(Exception):
    """A step failed in a way the workflow must see by name (the exception class is the error)."""


class ResidualDataFound(ErasureError):
    """Verification found data the erasure should have removed."""


class TransientError(ErasureError):
    """A batch was only partly processed after retries; the state's Retry runs it again."""


class RequestNotFound(ErasureError):
    pass


@dataclass(frozen=True)
class Request:
    request_id: str
    subject_id: str
    reason: ErasureReason
    scope: frozenset[str]

    @property
    def full(self) -> bool:
        return self.reason is not ErasureReason.PURPOSE_WITHDRAWN


def stores_in_scope(scope: frozenset[str]) -> tuple[datamap.Store, ...]:
    """The erasable stores holding at least one category of the scope."""
    return tuple(
        store
        for store in datamap.erasable_stores()
        if any(category.name in scope for category in datamap.categories_in(store.name))
    )


class ErasureSteps:
    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.requests = RequestRegistry(settings)
        self.keyring = keyring or get_keyring()
        self.identity = CustomerIdentity(settings)

    # --- the request record ----------------------------------------------------------------

    def read(self, event: dict[str, Any]) -> tuple[Request, dict[str, Any]]:
        """The request the event names, checked against its subject, and the whole record (one read)."""
        request_id = str(event["request_id"])
        item = self.requests.load(request_id)
        if item is None or item.get("subject_id") != check_subject_id(str(event["subject_id"])):
            raise RequestNotFound(f"No erasure request {request_id} for this subject.")
        request = Request(request_id, item["subject_id"], ErasureReason(item["reason"]), frozenset(item["scope"]))
        return request, item

    @staticmethod
    def planned(event: dict[str, Any]) -> Request:
        """The request as Freeze read it from the record, carried in the workflow's state.

        Only the state machine invokes the steps, and its state holds what Freeze returned, so
        the steps after Freeze need no read of the record for the scope and the reason.
        """
        scope = frozenset(str(name) for name in event["scope"])
        unknown = scope - {category.name for category in datamap.CATEGORIES}
        if unknown:
            raise ValueError(f"Unknown categories in the plan: {sorted(unknown)}.")
        reason = ErasureReason(str(event["reason"]))  # required: no default may turn a purpose withdrawal full
        return Request(str(event["request_id"]), check_subject_id(str(event["subject_id"])), reason, scope)

    def _mark(self, request: Request, *steps: str, status: RequestStatus | None = None, **values: Any) -> None:
        """Record steps as done (idempotently: a re-run only moves their time) and set fields (or map entries)."""
        names = {f"#step{index}": step for index, step in enumerate(steps)}
        sets = [f"steps.{name} = :at" for name in names] + ["updated_at = :at"]
        attribute_values: dict[str, Any] = {":at": now_iso()}
        if status is not None:
            sets.append("#status = :status")
            names["#status"] = "status"
            attribute_values[":status"] = status.value
        for index, (path, value) in enumerate(values.items()):
            # `map.key` sets one entry of a map attribute; the key itself may hold any character but a dot.
            segments = path.split(".", 1)
            placeholders = [f"#v{index}_{depth}" for depth in range(len(segments))]
            names.update(zip(placeholders, segments, strict=True))
            sets.append(f"{'.'.join(placeholders)} = :v{index}")
            attribute_values[f":v{index}"] = value
        clients.dynamodb().update_item(
            TableName=self.requests.table,
            Key=dynamo.to_item({"request_id": request.request_id}),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=dynamo.to_values(attribute_values),
        )

    # --- 1. freeze --------------------------------------------------------------------------

    def freeze(self, event: dict[str, Any]) -> dict[str, Any]:
        """Nothing new may arrive while the data goes: the subject is marked, the sign-in disabled."""
        request, item = self.read(event)
        if request.full:
            self._set_subject_status(request, SubjectStatus.ERASING)
            self.identity.disable(request.subject_id)
        done = item.get("status") == RequestStatus.COMPLETED.value
        self._mark(request, "freeze", status=None if done else RequestStatus.IN_PROGRESS)
        return {
            "stores": [store.name for store in stores_in_scope(request.scope)],
            "scope": sorted(request.scope),
            "reason": request.reason.value,
            "status": "frozen",
        }

    def _set_subject_status(self, request: Request, status: SubjectStatus) -> None:
        """Move the subject forward; an erased subject never goes back to being erased."""
        try:
            clients.dynamodb().update_item(
                TableName=self.settings.table("subjects"),
                Key=dynamo.to_item({"subject_id": request.subject_id}),
                UpdateExpression="SET #status = :status, status_request = :request_id, status_at = :at",
                ConditionExpression="attribute_not_exists(#status) OR #status <> :erased",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=dynamo.to_values(
                    {
                        ":status": status.value,
                        ":request_id": request.request_id,
                        ":at": now_iso(),
                        ":erased": SubjectStatus.ERASED.value,
                    }
                ),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # --- 2. erase one store (the Map's iteration) -------------------------------------------

    def erase_store(self, event: dict[str, Any]) -> dict[str, Any]:
        """One batch of one store; `erased` is the store's running total in this run of the Map.

        Nothing is written to the request here: NotifyProcessors records the totals of the run
        once, so a store costs its reads and its deletes and no bookkeeping call per batch.
        """
        request = self.planned(event)
        store = datamap.store(str(event["store"]))
        if isinstance(store, datamap.TableStore):
            deleted, more = self._erase_table(request, store)
        else:
            deleted, more = self._erase_bucket(request, store)
        erased = int(event.get("erased_before", 0)) + deleted
        return {"store": store.name, "deleted": deleted, "erased": erased, "more": more}

    def _keys_in_scope(
        self, request: Request, store: datamap.TableStore, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` keys of the subject's items whose category is in scope, and whether more remain."""
        table = self.settings.table(store.name)
        found: list[dict[str, Any]] = []
        for item in _query_keys(table, store, request.subject_id):
            if self._in_scope(request, store, item):
                if len(found) == limit:
                    return found, True
                found.append(item)
        return found, False

    @staticmethod
    def _in_scope(request: Request, store: datamap.TableStore, item: dict[str, Any]) -> bool:
        if store.category_attribute is None:
            return True  # a single-category store is in the plan only when its category is in scope
        return str(item.get(store.category_attribute)) in request.scope

    def _erase_table(self, request: Request, store: datamap.TableStore) -> tuple[int, bool]:
        keys, more = self._keys_in_scope(request, store, self.settings.erasure_batch_items)
        table = self.settings.table(store.name)
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            batch: list[WriteRequestTypeDef] = [
                {"DeleteRequest": {"Key": dynamo.to_item(key)}} for key in keys[start : start + BATCH_WRITE_MAX]
            ]
            batch_write(table, batch)
        return len(keys), more

    def _erase_bucket(self, request: Request, store: datamap.BucketStore) -> tuple[int, bool]:
        bucket = self.settings.bucket(store.name)
        prefix = datamap.BucketStore.prefix(request.subject_id)
        s3 = clients.s3()
        deleted = 0
        budget = self.settings.erasure_batch_items
        while deleted < budget:
            listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix, MaxKeys=DELETE_OBJECTS_MAX)
            versions: list[ObjectIdentifierTypeDef] = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for entry in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
            ]
            if not versions:
                return deleted, False
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
            errors = response.get("Errors", [])
            if errors:
                raise TransientError(f"{len(errors)} object versions of {store.name} could not be deleted.")
            deleted += len(versions)
            if not listed.get("IsTruncated"):
                return deleted, False  # that listing held the last of them: no need to list an empty prefix
        return deleted, True

    # --- 3. notify sub-processors -----------------------------------------------------------

    def notify_processors(self, event: dict[str, Any]) -> dict[str, Any]:
        """Whom to notify (ids and deadlines only), or — with `outcome` — one processor's outcome.

        The processors come from the subject record (erasure already deleted the disclosures
        store), from the request (a `sharing:` withdrawal names its processor), or for a purpose
        withdrawal from the disclosures that hold a category in scope. A processor already
        confirmed by an earlier run is not asked again.
        """
        request, item = self.read(event)
        if "outcome" in event:
            return self._processor_outcome(request, str(event["processor_id"]), str(event["outcome"]))
        outcomes: dict[str, str] = dict(item.get("sub_processors") or {})
        registry = ProcessorRegistry(self.settings)
        asked = []
        for processor_id in self._processors_of(request, item):
            if outcomes.get(processor_id) == CONFIRMED:
                continue
            agreement = registry.get(processor_id)
            timeout = agreement.acknowledgement_timeout() if agreement else DEFAULT_ACK_TIMEOUT_SECONDS
            deadline = clock.iso(clock.now() + timedelta(seconds=timeout))
            outcomes[processor_id] = NOTIFIED
            asked.append({"processor_id": processor_id, "timeout_seconds": timeout, "deadline": deadline})
        # The seals of an earlier round's tokens go: those waits are over, and this round's tokens replace them.
        seals: dict[str, Any] = {SEAL_MAP: {}}
        self._mark(
            request, "erase_stores", "notify_processors", sub_processors=outcomes, **seals, **_erased_totals(event)
        )
        return {"processors": asked, "notified": len(asked), "unconfirmed": 0}

    def ask_processor(self, event: dict[str, Any]) -> dict[str, Any]:
        """Seal the task token to this processor and request, then send it the deletion request.

        Invoked by the state machine with `lambda:invoke.waitForTaskToken`: the event carries
        `task_token` (`$$.Task.Token`), and the state waits for `SendTaskSuccess` from the
        acknowledgement route, which accepts the token only with this seal. The seal goes on the
        request record (`token_seals.<processor>`, only while that processor is being asked) before
        the message is sent, so a message never exists without its seal. The message carries ids,
        the deadline and the token — no personal value; the result carries a count only, never
        the token.
        """
        request_id, subject_id = str(event["request_id"]), check_subject_id(str(event["subject_id"]))
        processor_id = str(event["processor_id"])
        task_token = str(event["task_token"])
        seal = TaskTokenSeals(self.settings).seal(request_id, processor_id, task_token)
        clients.dynamodb().update_item(
            TableName=self.requests.table,
            Key=dynamo.to_item({"request_id": request_id}),
            UpdateExpression="SET #seals.#processor = :seal",
            ConditionExpression="#outcomes.#processor = :notified",
            ExpressionAttributeNames={"#seals": SEAL_MAP, "#outcomes": "sub_processors", "#processor": processor_id},
            ExpressionAttributeValues=dynamo.to_values({":seal": seal, ":notified": NOTIFIED}),
        )
        message = {
            "kind": "erasure",
            "task_token": task_token,
            "request_id": request_id,
            "subject_id": subject_id,
            "processor_id": processor_id,
            "deadline": str(event["deadline"]),
        }
        clients.sqs().send_message(
            QueueUrl=self.settings.processor_queue_url,
            MessageBody=json.dumps(message),
            MessageAttributes={"processor_id": {"DataType": "String", "StringValue": processor_id}},
        )
        return {"asked": 1}

    def _processors_of(self, request: Request, item: dict[str, Any]) -> list[str]:
        named = [str(processor_id) for processor_id in item.get("processors") or ()]
        if named:
            return sorted(set(named))
        if request.full:
            return sorted(SubjectRegistry(self.settings).load(request.subject_id).disclosed_to)
        disclosures = dynamo.query_partition(self.settings.table("disclosures"), "subject_id", request.subject_id)
        return sorted(
            {str(entry["processor_id"]) for entry in disclosures if set(entry.get("categories", ())) & request.scope}
        )

    def _processor_outcome(self, request: Request, processor_id: str, outcome: str) -> dict[str, Any]:
        if outcome not in (CONFIRMED, UNCONFIRMED):
            raise ValueError("Unknown sub-processor outcome.")
        clients.dynamodb().update_item(
            TableName=self.requests.table,
            Key=dynamo.to_item({"request_id": request.request_id}),
            UpdateExpression="SET sub_processors.#processor = :outcome, updated_at = :at",
            ConditionExpression="attribute_exists(sub_processors.#processor)",
            ExpressionAttributeNames={"#processor": processor_id},
            ExpressionAttributeValues=dynamo.to_values({":outcome": outcome, ":at": now_iso()}),
        )
        return {"processor_id": processor_id, "outcome": outcome}

    # --- 4. shred ---------------------------------------------------------------------------

    def shred_key(self, event: dict[str, Any]) -> dict[str, Any]:
        """Delete the wrapped key (full erasures) and record the erasure in the ledger."""
        request = self.planned(event)
        shredded = self.keyring.shred(request.subject_id) if request.full else False
        at = now_iso()
        clients.dynamodb().put_item(
            TableName=self.settings.table(LEDGER_TABLE),
            Item=dynamo.to_item(
                {
                    "subject_id": request.subject_id,
                    "request_id": request.request_id,
                    "reason": request.reason.value,
                    "scope": sorted(request.scope),
                    "key_shredded": request.full,
                    "erased_at": at,
                }
            ),
        )
        self._mark(request, "shred_key", key_shredded_at=at if request.full else None)
        return {"shredded": shredded}

    # --- 5. delete the identity -------------------------------------------------------------

    def delete_identity(self, event: dict[str, Any]) -> dict[str, Any]:
        request = self.planned(event)
        deleted = self.identity.delete(request.subject_id) if request.full else False
        self._mark(request, "delete_identity")
        return {"deleted": deleted}

    # --- 6. verify --------------------------------------------------------------------------

    def verify(self, event: dict[str, Any]) -> dict[str, Any]:
        """Ask every store again; anything left in scope fails verification."""
        request = self.planned(event)
        residual: dict[str, int] = {}
        for store in stores_in_scope(request.scope):
            if isinstance(store, datamap.TableStore):
                keys, more = self._keys_in_scope(request, store, 1)
                left = len(keys) + int(more)
            else:
                listed = clients.s3().list_object_versions(
                    Bucket=self.settings.bucket(store.name),
                    Prefix=datamap.BucketStore.prefix(request.subject_id),
                    MaxKeys=1,
                )
                left = len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))
            if left:
                residual[store.name] = left
        if request.full:
            if self.keyring.exists(request.subject_id):
                residual["subject_keys"] = 1
            if self.identity.username(request.subject_id) is not None:
                residual["identity"] = 1
        if residual:
            raise ResidualDataFound(f"Data remains in {sorted(residual)}.")
        self._mark(request, "verify")
        return {"residual": 0}

    # --- 7. certify -------------------------------------------------------------------------

    def certify(self, event: dict[str, Any]) -> dict[str, Any]:
        request, item = self.read(event)
        if item.get("status") == RequestStatus.COMPLETED.value and item.get("certificate_digest"):
            return {"status": RequestStatus.COMPLETED.value, "certificate_digest": item["certificate_digest"]}
        completed_at = clock.now()
        shredded_at = item.get("key_shredded_at")
        certificate = {
            "request_id": request.request_id,
            "subject_id": request.subject_id,
            "reason": request.reason.value,
            "scope": sorted(request.scope),
            "stores": _sum_runs(item.get("erased", {}), stores_in_scope(request.scope)),
            "key_shredded": request.full,
            "identity_deleted": request.full,
            "sub_processors": _processor_outcomes(item.get("sub_processors") or {}),
            "execution_arn": event.get("execution_arn"),
            "completed_at": clock.iso(completed_at),
            "unrecoverable_after": self._unrecoverable_after(shredded_at, completed_at) if request.full else None,
            "ledger": self._ledger_head(request),
        }
        # Filed beside the chain, where an auditor reads it; the certify event attests its digest.
        digest = AuditLedger(self.settings).put_document(request.request_id, "certificate", certificate)
        self._mark(
            request, "certify", status=RequestStatus.COMPLETED, certificate=certificate, certificate_digest=digest
        )
        if request.full:
            self._set_subject_status(request, SubjectStatus.ERASED)
        self._close(request)
        return {"status": RequestStatus.COMPLETED.value, "certificate_digest": digest}

    def _ledger_head(self, request: Request) -> dict[str, Any]:
        """The chain head the certificate cites: the last event before it; certify's own event follows it."""
        head = AuditLedger(self.settings).head(request.request_id) or {}
        return {
            "chain_id": request.request_id,
            "head_seq": int(head.get("seq", 0)),
            "head_hash": str(head.get("hash", GENESIS)),
        }

    def _unrecoverable_after(self, shredded_at: str | None, completed_at: datetime) -> str:
        """Computed where every retention date is (custody.retention.schedule), from the shred time."""
        shredded = clock.parse(shredded_at) if shredded_at else completed_at
        return clock.iso(schedule.unrecoverable_after(shredded, self.settings))

    def _close(self, request: Request) -> None:
        clients.dynamodb().update_item(
            TableName=self.settings.table("subjects"),
            Key=dynamo.to_item({"subject_id": request.subject_id}),
            UpdateExpression="DELETE open_requests :request_id",
            ExpressionAttributeValues=dynamo.to_values({":request_id": {request.request_id}}),
        )

    # --- on failure -------------------------------------------------------------------------

    def record_failure(self, event: dict[str, Any]) -> dict[str, Any]:
        request, _ = self.read(event)
        error = str(event.get("error") or "Unknown")[:100]
        self._mark(request, "failed", status=RequestStatus.FAILED, failure=error)
        return {"status": RequestStatus.FAILED.value}


def _query_keys(table: str, store: datamap.TableStore, subject_id: str) -> Iterator[dict[str, Any]]:
    """The keys (and category) of the subject's items: nothing else is read."""
    attributes = {store.partition_key, store.sort_key} | (
        {store.category_attribute} if store.category_attribute else set()
    )
    names = {f"#a{index}": name for index, name in enumerate(sorted(attributes))}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#pk = :pk",
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {**names, "#pk": store.partition_key},
        "ExpressionAttributeValues": dynamo.to_values({":pk": subject_id}),
        "ConsistentRead": True,
    }
    while True:
        response = clients.dynamodb().query(**kwargs)
        for item in response.get("Items", []):
            yield {
                name: value
                for name, value in dynamo.from_item(item).items()
                if name in (store.partition_key, store.sort_key) or name == store.category_attribute
            }
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _processor_outcomes(outcomes: dict[str, Any]) -> dict[str, int]:
    """How many sub-processors were asked to erase, and how each answered (ids stay on the request)."""
    answered = list(outcomes.values())
    return {
        "notified": len(answered),
        "confirmed": answered.count(CONFIRMED),
        "unconfirmed": answered.count(UNCONFIRMED),
    }


def _erased_totals(event: dict[str, Any]) -> dict[str, Any]:
    """The Map's totals as the request's `erased.<execution>#<round>` entry (setting it again is harmless)."""
    if "erased" not in event or "execution" not in event:
        return {}
    totals = {str(entry["store"]): int(entry["erased"]) for entry in event["erased"]}
    return {f"erased.{event['execution']}#{int(event.get('round', 0))}": totals}


def _sum_runs(runs: dict[str, Any], stores: tuple[datamap.Store, ...]) -> dict[str, int]:
    """What every run of the Map erased, store by store (a re-run or another round adds to it)."""
    return {store.name: sum(int(run.get(store.name, 0)) for run in runs.values()) for store in stores}


def batch_write(table: str, requests: list[WriteRequestTypeDef]) -> None:
    pending = requests
    for _ in range(UNPROCESSED_RETRIES):
        response = clients.dynamodb().batch_write_item(RequestItems={table: pending})
        pending = cast("list[WriteRequestTypeDef]", response.get("UnprocessedItems", {}).get(table, []))
        if not pending:
            return
    raise TransientError(f"{len(pending)} deletes stayed unprocessed.")
