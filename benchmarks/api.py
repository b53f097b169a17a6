"""API cost: in-process handler latency (p50, p95) and AWS calls for the customer's main writes and
reads, beside the floor — the bare boto3 calls the operation needs, timed in the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness import Caller, account, new_caller, observing_every_call, percentiles, timed
from custody.declared import datamap
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo
from devstack.metering import counting_calls

REPEATS = 40
PROFILE = {
    "identity": {"legal_name": "Bench Customer", "birth_date": "1980-01-02"},
    "contact": {"phone": "+84912345678"},
    "preferences": {"channels": ["email"], "language": "vi"},
}


def _floor_get(settings: Settings, subject_id: str) -> Callable[[], None]:
    def bare() -> None:
        dynamodb, s3 = clients.dynamodb(), clients.s3()
        dynamodb.get_item(TableName=settings.table("subjects"), Key={"subject_id": {"S": subject_id}})
        for store in datamap.STORES:
            if store.classification is not datamap.Classification.PERSONAL:
                continue
            # Each store's first page and its count (the report shows how much each store holds).
            if isinstance(store, datamap.TableStore):
                query: dict[str, Any] = {
                    "TableName": settings.table(store.name),
                    "KeyConditionExpression": "subject_id = :s",
                    "ExpressionAttributeValues": {":s": {"S": subject_id}},
                }
                dynamodb.query(**query)
                dynamodb.query(**query, Select="COUNT")
            else:
                for _ in range(2):
                    s3.list_objects_v2(Bucket=settings.bucket(store.name), Prefix=f"subjects/{subject_id}/")

    return bare


def _floor_write(settings: Settings, subject_id: str) -> Callable[[], None]:
    """Read the subject and the profile, write the category items and the version: one transaction."""

    def bare() -> None:
        dynamodb = clients.dynamodb()
        dynamodb.get_item(TableName=settings.table("subjects"), Key={"subject_id": {"S": subject_id}})
        dynamodb.query(
            TableName=settings.table("profiles"),
            KeyConditionExpression="subject_id = :s",
            ExpressionAttributeValues={":s": {"S": subject_id}},
        )
        items: list[Any] = [
            {
                "Put": {
                    "TableName": settings.table("profiles"),
                    "Item": dynamo.to_item({"subject_id": subject_id, "category": name, "fields": {"x": "cc1.x"}}),
                }
            }
            for name in PROFILE
        ]
        items.append(
            {
                "Update": {
                    "TableName": settings.table("subjects"),
                    "Key": {"subject_id": {"S": subject_id}},
                    "UpdateExpression": "SET profile_version = if_not_exists(profile_version, :z) + :one",
                    "ExpressionAttributeValues": {":z": {"N": "0"}, ":one": {"N": "1"}},
                }
            }
        )
        dynamodb.transact_write_items(TransactItems=items)

    return bare


def _measure(name: str, ours: Callable[[], Any], floor: Callable[[], Any]) -> dict[str, Any]:
    ours()  # warm: the key is unwrapped once and cached, as in a warm Lambda
    floor()
    with counting_calls("dynamodb", "kms", "s3") as calls:
        ours()
    samples_ours, samples_floor, samples_own = [], [], []
    in_aws = [0.0]

    def add_aws_time(_: str, __: dict[str, Any], seconds: float) -> None:
        in_aws[0] += seconds

    with observing_every_call(add_aws_time):
        for _ in range(REPEATS // 10):  # interleaved, so drift on a noisy machine hits both alike
            for _ in range(10):
                in_aws[0] = 0.0
                started = time.perf_counter()
                ours()
                elapsed = time.perf_counter() - started
                samples_ours.append(elapsed)
                samples_own.append(elapsed - in_aws[0])
            samples_floor += timed(floor, 10)
    p50, p95 = percentiles(samples_ours)
    floor_p50, floor_p95 = percentiles(samples_floor)
    own_p50, _ = percentiles(samples_own)
    return {
        "route": name,
        "calls": sum(calls.values()),
        "calls_by_operation": dict(sorted(calls.items())),
        "p50_ms": round(p50 * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "floor_p50_ms": round(floor_p50 * 1000, 2),
        "floor_p95_ms": round(floor_p95 * 1000, 2),
        "p50_over_floor": round(p50 / floor_p50, 2),
        # the handler's own work (validation, crypto, Powertools) outside its AWS calls
        "own_p50_ms": round(own_p50 * 1000, 2),
    }


def run() -> dict[str, Any]:
    rows = []
    with account() as (resources, settings):
        customer: Caller = new_caller(resources)
        for purpose in ("crm_core", "marketing"):
            customer.call("collect", "POST", "/v1/me/consents", {"purpose": purpose, "policy_version": "1"})
        customer.call("collect", "PUT", "/v1/me/profile", PROFILE)
        twin = new_caller(resources)
        phones = iter(f"+8491{n:07d}" for n in range(10_000))
        rows.append(
            _measure(
                "PUT /v1/me/profile",
                lambda: customer.call("collect", "PUT", "/v1/me/profile", PROFILE),
                _floor_write(settings, twin.subject_id),
            )
        )
        rows.append(
            _measure(
                "PATCH /v1/me/profile",
                lambda: customer.call("collect", "PATCH", "/v1/me/profile", {"contact": {"phone": next(phones)}}),
                _floor_write(settings, twin.subject_id),
            )
        )
        rows.append(
            _measure(
                "GET /v1/me",
                lambda: json.loads(customer.call("subject_access", "GET", "/v1/me")["body"]),
                _floor_get(settings, customer.subject_id),
            )
        )
    figures: dict[str, float] = {}
    for row in rows:
        key = row["route"].split(" ", 1)[0].lower() + "_" + row["route"].split("/v1/", 1)[1].replace("/", "_")
        figures[f"api.{key}.p50_over_floor"] = row["p50_over_floor"]
        figures[f"api.{key}.calls"] = row["calls"]
    return {"rows": rows, "figures": figures}
