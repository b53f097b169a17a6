"""Erasure cost: AWS calls and time for N items and M object versions, beside the batching floor
and a naive baseline (Scan + per-item DeleteItem, unprefixed listing + per-version DeleteObject),
alone and among 10,000 other customers. Every ratio compares figures of this run.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from typing import Any

from benchmarks.harness import account
from custody.declared import datamap
from custody.declared.settings import Settings
from custody.erasure.contract import EraseStoresInput
from custody.erasure.steps import erase_stores
from custody.erasure.steps.context import StepContext
from custody.platform.aws import clients
from custody.stores.partitions import BATCH_WRITE_MAX, DELETE_OBJECTS_MAX
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable
from devstack.metering import counting_calls

ITEMS = (10, 100, 1_000, 10_000)
VERSIONS = (0, 100, 2_000)
OTHERS = 10_000
TABLE = "interactions"
BUCKET = "documents"


def _seed(settings: Settings, subject_id: str, items: int, versions: int) -> None:
    dynamodb, s3 = clients.dynamodb(), clients.s3()
    table = settings.table(TABLE)
    for start in range(0, items, BATCH_WRITE_MAX):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"subject_id": {"S": subject_id}, "interaction_key": {"S": f"{n:06d}"}}}}
                    for n in range(start, min(start + BATCH_WRITE_MAX, items))
                ]
            }
        )
    bucket = settings.bucket(BUCKET)
    for document in range(versions):
        s3.put_object(Bucket=bucket, Key=f"subjects/{subject_id}/documents/{document:06d}", Body=b"x")


def _seed_others(settings: Settings) -> None:
    table = settings.table(TABLE)
    for _ in range(0, OTHERS, BATCH_WRITE_MAX):
        clients.dynamodb().batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"subject_id": {"S": str(uuid.uuid4())}, "interaction_key": {"S": "0"}}}}
                    for _ in range(BATCH_WRITE_MAX)
                ]
            }
        )


def _floor(items: int, versions: int) -> int:
    """The calls no correct erasure avoids: a read of each partition and listing, and the batches."""
    tables = [store for store in datamap.erasable_stores() if isinstance(store, datamap.TableStore)]
    buckets = [store for store in datamap.erasable_stores() if isinstance(store, datamap.BucketStore)]
    deletes = math.ceil(items / BATCH_WRITE_MAX) + math.ceil(versions / DELETE_OBJECTS_MAX)
    listings = len(buckets) - 1 + max(1, math.ceil(versions / DELETE_OBJECTS_MAX))
    return len(tables) + deletes + listings


def ours(settings: Settings, subject_id: str) -> tuple[Counter[str], float]:
    requests = RequestsTable(settings)
    request = ErasureRequest.new(subject_id, ErasureReason.WITHDRAWAL, ())
    clients.dynamodb().transact_write_items(TransactItems=[requests.put_new(request)])
    context = StepContext.of(settings)
    with counting_calls("dynamodb", "s3") as calls:
        started = time.perf_counter()
        # the state after Freeze, as EraseStores receives it
        step = EraseStoresInput(
            step="erase_stores",
            request_id=request.request_id,
            subject_id=subject_id,
            reason=request.reason,
            scope=request.scope,
            stores=tuple(store.name for store in datamap.erasable_stores()),
            execution=request.request_id,
            round=0,
        )
        erase_stores.run(context, step)
        elapsed = time.perf_counter() - started
    return Counter(calls), elapsed


def naive(settings: Settings, subject_id: str) -> tuple[Counter[str], float]:
    """What erasure costs without a per-customer layout: Scan every table, delete item by item."""
    with counting_calls("dynamodb", "s3") as calls:
        started = time.perf_counter()
        for store in datamap.erasable_stores():
            if isinstance(store, datamap.TableStore):
                scans = clients.dynamodb().get_paginator("scan")
                for scanned in scans.paginate(TableName=settings.table(store.name)):
                    for item in scanned["Items"]:
                        if item["subject_id"]["S"] == subject_id:
                            key = {store.partition_key: item[store.partition_key], store.sort_key: item[store.sort_key]}
                            clients.dynamodb().delete_item(TableName=settings.table(store.name), Key=key)
            else:
                bucket = settings.bucket(store.name)
                listings = clients.s3().get_paginator("list_object_versions")
                for listed in listings.paginate(Bucket=bucket):
                    for version in listed.get("Versions", []):
                        if version["Key"].startswith(f"subjects/{subject_id}/"):
                            clients.s3().delete_object(
                                Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"]
                            )
        elapsed = time.perf_counter() - started
    return Counter(calls), elapsed


def run() -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    shapes = [(n, 0) for n in ITEMS] + [(10, m) for m in VERSIONS if m] + [(100, 100), (1_000, 2_000)]
    with account() as (_, settings):
        for crowded in (False, True):
            if crowded:
                _seed_others(settings)
            for items, versions in shapes:
                if crowded and (items, versions) not in ((100, 100), (1_000, 0)):
                    continue
                subject = str(uuid.uuid4())
                _seed(settings, subject, items, versions)
                calls, seconds = ours(settings, subject)
                row = {
                    "items": items,
                    "versions": versions,
                    "others": OTHERS if crowded else 0,
                    "calls": sum(calls.values()),
                    "floor": _floor(items, versions),
                    "scans": calls["dynamodb.Scan"],
                    "seconds": round(seconds, 3),
                    "calls_by_operation": dict(sorted(calls.items())),
                }
                if items <= 1_000 and versions <= 100:
                    twin = str(uuid.uuid4())
                    _seed(settings, twin, items, versions)
                    naive_calls, naive_seconds = naive(settings, twin)
                    row.update(naive_calls=sum(naive_calls.values()), naive_seconds=round(naive_seconds, 3))
                rows.append(row)
    worst = max(row["calls"] / row["floor"] for row in rows)
    alone = {(r["items"], r["versions"]): r["calls"] for r in rows if not r["others"]}
    crowded_ratio = max(r["calls"] / alone[(r["items"], r["versions"])] for r in rows if r["others"])
    naive_ratio = min(r["naive_calls"] / r["calls"] for r in rows if "naive_calls" in r)
    return {
        "rows": rows,
        "figures": {
            "erasure.calls_over_minimum": round(worst, 3),
            "erasure.calls_crowded_over_alone": round(crowded_ratio, 3),
            "erasure.naive_calls_over_ours": round(naive_ratio, 3),
        },
    }
