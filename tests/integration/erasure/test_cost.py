"""Erasure costs O(the customer's data), never O(the table): AWS calls counted, not timed."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.erasure.contract import EraseStoresInput, VerifyInput
from custody.erasure.steps import erase_stores, verify
from custody.erasure.steps.context import StepContext
from custody.platform import aws
from custody.stores.partitions import BATCH_WRITE_MAX, DELETE_OBJECTS_MAX
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable
from devstack.iam.enforce import acting_as
from devstack.metering import counting_calls
from tests.integration.conftest import LocalStack

N_ITEMS = 130  # interactions: ⌈130/25⌉ = 6 batch deletes
M_VERSIONS = 1030  # document versions and delete markers: ⌈1030/1000⌉ = 2 DeleteObjects
OTHERS = 10_000


@pytest.fixture
def calls(settings: Settings) -> Iterator[Counter[str]]:
    with counting_calls("dynamodb", "s3") as counted:
        yield counted


def _seed_subject(stack: LocalStack, subject_id: str, items: int, versions: int) -> None:
    """`items` interactions and `versions` object versions (a tenth of them delete markers)."""
    dynamodb, s3 = stack.clients("dynamodb"), stack.clients("s3")
    table = stack.resources.tables["interactions"]
    for start in range(0, items, 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {"subject_id": {"S": subject_id}, "interaction_key": {"S": f"{index:06d}"}}
                        }
                    }
                    for index in range(start, min(start + 25, items))
                ]
            }
        )
    bucket = stack.resources.buckets["documents"]
    for document in range(0, versions, 10):
        key = f"subjects/{subject_id}/documents/{uuid.uuid4()}"
        for _ in range(min(9, versions - document)):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        if versions - document >= 10:
            s3.delete_object(Bucket=bucket, Key=key)


def _seed_others(stack: LocalStack) -> None:
    """10,000 other customers in the same table, and a few hundred others' objects in the bucket."""
    for _ in range(30):
        _seed_subject(stack, str(uuid.uuid4()), 0, 10)
    dynamodb = stack.clients("dynamodb")
    table = stack.resources.tables["interactions"]
    for _ in range(0, OTHERS, 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"subject_id": {"S": str(uuid.uuid4())}, "interaction_key": {"S": "0"}}}}
                    for _ in range(25)
                ]
            }
        )


def _erase(settings: Settings, calls: Counter[str], subject_id: str) -> Counter[str]:
    requests = RequestsTable(settings)
    request = ErasureRequest.new(subject_id, ErasureReason.WITHDRAWAL, ())
    aws.clients.dynamodb().transact_write_items(TransactItems=[requests.put_new(request)])
    context = StepContext.of(settings)
    # the state after Freeze: the plan's scope and reason travel with every later step
    plan = {
        "request_id": request.request_id,
        "subject_id": subject_id,
        "scope": ("interactions", "documents"),
        "reason": request.reason,
    }
    context.keyring.shred(subject_id)  # ShredKey's part, which a full erasure's Verify checks
    calls.clear()
    with acting_as("erasure_steps"):  # the steps, checked against their role as in Lambda
        stores = ("interactions", "documents")
        event = EraseStoresInput(step="erase_stores", stores=stores, execution=request.request_id, round=0, **plan)
        result = erase_stores.run(context, event)
        assert {total.store for total in result.stores} == set(stores)
        verify.run(context, VerifyInput(step="verify", **plan))
    return Counter(calls)


def test_erasure_stays_within_the_batching_minimum(
    local_stack: LocalStack, settings: Settings, calls: Counter[str]
) -> None:
    subject = str(uuid.uuid4())
    _seed_subject(local_stack, subject, N_ITEMS, M_VERSIONS)
    counted = _erase(settings, calls, subject)
    assert counted["dynamodb.BatchWriteItem"] == math.ceil(N_ITEMS / BATCH_WRITE_MAX)
    assert counted["s3.DeleteObjects"] == math.ceil(M_VERSIONS / DELETE_OBJECTS_MAX)
    # listing: one per 1,000 versions while deleting (the last one is not truncated), one to verify
    assert counted["s3.ListObjectVersions"] == math.ceil(M_VERSIONS / DELETE_OBJECTS_MAX) + 1
    # the partition is read once to erase and once to verify (1 MB pages), and the customer's
    # idempotency partition once to verify it is empty; never a Scan. The plan's scope leaves the
    # categories under a legal obligation out, as a full erasure that keeps them does: per such
    # obligation, Verify asks whether its key is still there (a GetItem) and, as it is not here, whether
    # any kept record would be left without it (a Query of that store, one item at most).
    kept = {category.obligation for category in datamap.retained_categories()}
    assert counted["dynamodb.Query"] == 3 + len(kept)
    assert counted["dynamodb.Scan"] == 0
    # the constant: verify's key-store and subject-record checks and its step mark, and EraseStores'
    # record of the round's totals; a store adds no bookkeeping call
    assert counted["dynamodb.GetItem"] == 2 + len(kept)
    assert counted["dynamodb.UpdateItem"] == 2


def test_other_customers_change_nothing(local_stack: LocalStack, settings: Settings, calls: Counter[str]) -> None:
    alone = str(uuid.uuid4())
    _seed_subject(local_stack, alone, 60, 20)
    counted_alone = _erase(settings, calls, alone)
    _seed_others(local_stack)
    crowded = str(uuid.uuid4())
    _seed_subject(local_stack, crowded, 60, 20)
    assert _erase(settings, calls, crowded) == counted_alone


def test_no_scan_on_the_erasure_path() -> None:
    import inspect

    from custody.erasure.steps import erase_stores, verify
    from custody.stores import partitions

    for module in (erase_stores, verify, partitions):
        assert "scan(" not in inspect.getsource(module)
    assert datamap.store("interactions")
