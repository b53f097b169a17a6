"""What "erasure is final" means, checked against the AWS APIs (issue 16).

* `erase_to_certificate`: the customer withdraws and the workflow runs until its request is
  `completed` (the world's sub-processor acknowledging its deletion request when asked).
* `footprint` (and `leftovers`, its summary): everything of a subject anywhere, the places derived
  from the data map — every table store by partition (the key store: key material only, never a
  shred's tombstone), every bucket store by every object version and delete marker under the
  subject's prefix — plus the derived records the data map declares: the `subjects` record beyond
  a tombstone (id, status, when, which request), the customer's idempotency partition. `added` is
  what one footprint holds that an earlier one did not: what a late write landed.
* `certificate_problems`: the certificate's claims checked again as Verify checks them — nothing
  in its scope's stores, no key when it says shredded (but the keys of what it kept under a legal
  obligation), no Cognito user when it says deleted — and the request's audit chain verified as an
  auditor verifies it.
* `retained_problems`: a customer a full erasure kept records of (status `retained`) holds exactly
  those records, their obligation's key, and a tombstone with when the retention ends; nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared import datamap, naming
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.subjects import RETAINED_ATTRIBUTES
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, Reply

# What an erased subject's record may keep (issue 16, case 2): its id, status, when and by which request.
TOMBSTONE: Final = frozenset({"subject_id", "status", "status_at", "status_request"})
POLL_SECONDS: Final = 0.05
POLLS: Final = 2400  # 120 s of polling at most: a bound, not a timing assumption


@dataclass
class Erasure:
    """A full erasure run to its end: the request, its final status and the execution's."""

    request_id: str
    status: str
    execution_status: str
    acknowledged: list[str] = field(default_factory=list)


def request_item(stack: LocalStack, request_id: str) -> dict[str, Any]:
    found = stack.clients("dynamodb").get_item(
        TableName=stack.resources.tables["requests"], Key={"request_id": {"S": request_id}}, ConsistentRead=True
    )
    return dynamo.from_item(found["Item"]) if "Item" in found else {}


def execution_arn(stack: LocalStack, name: str) -> str:
    machine = stack.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    return f"{machine.replace(':stateMachine:', ':execution:')}:{name}"


def erase_to_certificate(
    stack: LocalStack, customer: Customer, acknowledge: Any = None, polls: int = POLLS, *, until_ended: bool = False
) -> Erasure:
    """The customer withdraws; wait until the request is `completed` or its execution ended.

    `acknowledge(request_id)`, when given, is called on every poll: the sub-processors acknowledging
    the deletion requests queued for this request (returns the processors that did). With
    `until_ended`, wait for the execution to end too (the sub-processors' part may outlast the
    certificate).
    """
    accepted = customer.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    request_id = str(accepted.body["request_id"])
    return wait_for_request(stack, request_id, acknowledge, polls, until_ended=until_ended)


def wait_for_request(
    stack: LocalStack, request_id: str, acknowledge: Any = None, polls: int = POLLS, *, until_ended: bool = False
) -> Erasure:
    """Poll until the request is `completed` (and, with `until_ended`, its execution over) or its
    execution is no longer running; bounded by `polls`."""
    sfn = stack.clients("stepfunctions")
    acknowledged: list[str] = []
    for _ in range(polls):
        if acknowledge is not None:
            acknowledged += acknowledge(request_id)
        status = str(request_item(stack, request_id).get("status", ""))
        execution = sfn.describe_execution(executionArn=execution_arn(stack, request_id))["status"]
        if (status == "completed" and not until_ended) or execution != "RUNNING":
            return Erasure(request_id, status, execution, acknowledged)
        time.sleep(POLL_SECONDS)
    return Erasure(request_id, str(request_item(stack, request_id).get("status", "")), "RUNNING", acknowledged)


_SUBJECT_OF: dict[str, str] = {}  # execution ARN -> the subject its input names (inputs never change)


def _subject_of(sfn: Any, arn: str) -> str:
    if arn not in _SUBJECT_OF:
        described = sfn.describe_execution(executionArn=arn)
        _SUBJECT_OF[arn] = str(json.loads(described.get("input") or "{}").get("subject_id", ""))
    return _SUBJECT_OF[arn]


def settle_subject(
    stack: LocalStack,
    subject_id: str,
    acknowledge: Any = None,
    polls: int = POLLS,
    *,
    waiting: Iterable[str] = (),
) -> list[str]:
    """Wait until no erasure execution of the subject is running (bounded); returns those that did not succeed.

    `acknowledge(request_id)`, when given, is called for each running one: the sub-processors
    acknowledging what they were asked. The requests named in `waiting` are left waiting (a test
    keeps their acknowledgement for a request of its own).
    """
    left_waiting = set(waiting)
    sfn = stack.clients("stepfunctions")
    machine = stack.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    for _ in range(polls):
        mine = [
            item
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
            for item in page["executions"]
            if _subject_of(sfn, item["executionArn"]) == subject_id
        ]
        running = [
            item
            for item in mine
            if item["status"] == "RUNNING" and item["name"].split("-rerun-")[0] not in left_waiting
        ]
        if not running:
            ended = [item for item in mine if item["status"] not in ("SUCCEEDED", "RUNNING")]
            return sorted(f"{item['name']} {item['status']}" for item in ended)
        if acknowledge is not None:
            for item in running:
                acknowledge(item["name"].split("-rerun-")[0])
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"erasure executions of {subject_id} are still running")


Footprint = dict[str, set[str]]


def _entry(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, default=repr)


def footprint(stack: LocalStack, subject_id: str) -> Footprint:
    """Everything of the subject held anywhere, entry by entry (a place with nothing is left out).

    The data map's table stores: each item of the subject's partition that holds data (`holds_data`);
    its bucket stores: each object version and delete marker under the subject's prefix; the data
    map's operational tables whose subject records are a tombstone (`subjects`): each attribute beyond
    the tombstone's, and the status unless `erased`; those whose records are deleted (`idempotency`):
    each record. The places are `devstack.residue`'s, which counts them; this holds each entry, so that
    what one request added between two footprints can be told (`added`).
    """
    dynamodb, s3 = stack.clients("dynamodb"), stack.clients("s3")
    found: Footprint = {}
    for store in datamap.table_stores():
        entries = set()
        for page in dynamodb.get_paginator("query").paginate(
            TableName=stack.resources.tables[store.name],
            KeyConditionExpression="#pk = :s",
            ExpressionAttributeNames={"#pk": store.partition_key},
            ExpressionAttributeValues={":s": {"S": subject_id}},
            ConsistentRead=True,
        ):
            entries |= {_entry(item) for item in page["Items"] if holds_data(store, item)}
        if entries:
            found[store.name] = entries
    for bucket in datamap.bucket_stores():
        versions = set()
        for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=stack.resources.buckets[bucket.name], Prefix=bucket.prefix(subject_id)
        ):
            listed = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            versions |= {f"{entry['Key']}@{entry['VersionId']}" for entry in listed}
        if versions:
            found[bucket.name] = versions
    for operational in datamap.OPERATIONAL_TABLES.values():
        kept = _derived_records(stack, operational, subject_id)
        if kept:
            found[operational.name] = kept
    return found


def _derived_records(stack: LocalStack, table: datamap.OperationalTable, subject_id: str) -> set[str]:
    """What an operational table keeps of the subject beyond what the data map lets it keep.

    `tombstone`: the record keyed by the subject may hold its id, status (`erased`), when and by which
    request, nothing else; `deleted`: nothing may be keyed by the subject. Tables that keep ids only,
    or name no customer, are not looked at.
    """
    kind = str(getattr(table, "subject_records", "none"))
    if kind not in ("tombstone", "deleted") or table.partition_key != "subject_id":
        return set()
    dynamodb = stack.clients("dynamodb")
    name = stack.resources.tables[table.name]
    if kind == "deleted":
        pages = dynamodb.get_paginator("query").paginate(
            TableName=name,
            KeyConditionExpression="#pk = :s",
            ExpressionAttributeNames={"#pk": table.partition_key},
            ExpressionAttributeValues={":s": {"S": subject_id}},
            ConsistentRead=True,
        )
        return {_entry(item) for page in pages for item in page["Items"]}
    record = dynamodb.get_item(TableName=name, Key={"subject_id": {"S": subject_id}}, ConsistentRead=True).get("Item")
    if record is None:
        return set()
    extra = {f"{attribute}={_entry(value)}" for attribute, value in record.items() if attribute not in TOMBSTONE}
    if record.get("status", {}).get("S") != "erased":
        extra.add(f"status={_entry(record.get('status'))}")
    return extra


def added(after: Footprint, before: Footprint) -> Footprint:
    """What `after` holds that `before` did not (new or changed entries), place by place."""
    new = {place: entries - before.get(place, set()) for place, entries in after.items()}
    return {place: entries for place, entries in new.items() if entries}


def summary(found: Footprint) -> dict[str, Any]:
    """A footprint as a report shows it: a count per store, the attribute names of the subject record."""
    shown: dict[str, Any] = {place: len(entries) for place, entries in sorted(found.items())}
    for place, entries in found.items():
        if all("=" in entry and not entry.startswith("{") for entry in entries):  # a record's attributes
            shown[place] = sorted(entry.split("=", 1)[0] for entry in entries)
    return shown


def leftovers(stack: LocalStack, subject_id: str) -> dict[str, Any]:
    """Everything of the subject still held anywhere, summarised (empty when nothing is)."""
    return summary(footprint(stack, subject_id))


def holds_data(store: datamap.TableStore, item: dict[str, Any]) -> bool:
    """Whether an item of the store holds anything of the customer.

    Any item of an item-by-item store does. In a shredded store (the key store) only key material
    counts, and key material is binary (a wrapped key): a shred's tombstone, ids and times only, is
    what keeps a new key from ever being made for the customer.
    """
    if store.erasure is not datamap.Erasure.SHRED:
        return True
    return any("B" in value or "BS" in value for value in item.values())


def identity_exists(stack: LocalStack, subject_id: str) -> bool:
    users = stack.clients("cognito-idp").list_users(
        UserPoolId=stack.pool(naming.CUSTOMER_POOL).pool_id, Filter=f'sub = "{subject_id}"'
    )["Users"]
    return bool(users)


def in_scope(found: Footprint, scope: Iterable[str]) -> dict[str, int]:
    """How many of the footprint's entries of the data map's stores fall in an erasure's `scope` (category
    names): in a store holding several categories, the items of those categories; in the others, all."""
    wanted = set(scope)
    counts: dict[str, int] = {}
    for store in datamap.STORES:
        entries = found.get(store.name, set())
        attribute = getattr(store, "category_attribute", None)
        if attribute:
            entries = {entry for entry in entries if json.loads(entry).get(attribute, {}).get("S") in wanted}
        if entries:
            counts[store.name] = len(entries)
    return counts


def certificate_problems(stack: LocalStack, request_id: str) -> list[str]:
    """Where the request's certificate is no longer true (empty when it holds)."""
    request = request_item(stack, request_id)
    if request.get("status") != "completed":
        return [f"request {request_id} is {request.get('status')!r}, not completed"]
    certificate = request.get("certificate")
    if not isinstance(certificate, dict) or not request.get("certificate_digest"):
        return [f"request {request_id} holds no certificate"]
    subject_id = str(certificate["subject_id"])
    problems = []
    left = in_scope(footprint(stack, subject_id), certificate.get("scope", ()))
    for name in sorted(certificate.get("stores", {})):
        if left.get(name):
            problems.append(f"certified erased, yet {name} holds {left[name]} in scope")
    kept_keys = {str(entry.get("key_version")) for entry in certificate.get("retained") or ()}
    keys = [
        entry
        for entry in footprint(stack, subject_id).get("subject_keys", set())
        if json.loads(entry).get("key_version", {}).get("S") not in kept_keys
    ]
    if certificate.get("key_shredded") and keys:
        problems.append(f"certified shredded, yet subject_keys holds {len(keys)} key")
    if certificate.get("identity_deleted") and identity_exists(stack, subject_id):
        problems.append("certified deleted, yet the Cognito user exists")
    settings = Settings.from_env(stack.resources.environment)
    verification = verify(AuditorReader(settings, stack.clients).chain(request_id))
    problems += [f"audit chain: {finding}" for finding in verification.findings]
    if verification.certificate_digest != request["certificate_digest"]:
        problems.append("the chain attests another certificate than the request's")
    return problems


def retained_problems(stack: LocalStack, subject_id: str, request_id: str) -> list[str]:
    """Where a `retained` customer holds more, or other, than what its full erasure's certificate says it kept.

    The kept categories' stores hold exactly the records counted there; `subject_keys` holds key material of
    the kept obligations' keys only; the subject record is a tombstone with the retention's attributes, status
    `retained`. Everything else of the data map is empty.
    """
    certificate = request_item(stack, request_id).get("certificate") or {}
    kept = list(certificate.get("retained") or ())
    if not kept:
        return [f"request {request_id} kept nothing"]
    found = footprint(stack, subject_id)
    problems = []
    expected_stores: dict[str, int] = {}
    for entry in kept:
        store = datamap.category(str(entry["category"])).store
        expected_stores[store] = expected_stores.get(store, 0) + int(entry["items"])
    for place, entries in sorted(found.items()):
        if place in expected_stores:
            if len(entries) != expected_stores[place]:
                problems.append(f"{place} holds {len(entries)}, the certificate kept {expected_stores[place]}")
        elif place == "subject_keys":
            versions = sorted(json.loads(entry)["key_version"]["S"] for entry in entries)
            if versions != sorted({str(entry["key_version"]) for entry in kept}):
                problems.append(f"subject_keys holds key material of {versions}")
        elif place == "subjects":
            attributes = {entry.split("=", 1)[0] for entry in entries}
            if attributes != {*RETAINED_ATTRIBUTES, "status"} or 'status={"S": "retained"}' not in entries:
                problems.append(f"the subject record holds {sorted(attributes)}")
        else:
            problems.append(f"{place} holds {len(entries)} after the erasure")
    return problems


# What the API answers a request that must not land (the account is being erased, or the object is gone).
REFUSALS: Final = frozenset({403, 404, 409, 410})


def refused(reply: Reply) -> bool:
    """A refusal in the API's error shape (a 403, 404, 409 or 410)."""
    shaped = isinstance(reply.body, dict) and {"error", "message", "details"} <= set(reply.body)
    return reply.status in REFUSALS and shaped


def refused_and_nothing_left(stack: LocalStack, subject_id: str, reply: Reply, what: str) -> list[str]:
    """What is wrong when `reply` (to `what`) should have been refused and nothing of the subject left."""
    problems = [] if refused(reply) else [f"{what} answered {reply.status} {reply.text[:200]}"]
    left = leftovers(stack, subject_id)
    if left:
        problems.append(f"residue: {json.dumps(left, sort_keys=True)}")
    return problems
