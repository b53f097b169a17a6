"""Idempotency records on moto: each in its customer's partition, refused once erasure began, erased with them.

`custody.platform.idempotency.once` (Powertools writes and reads the records) and the table's
repository, `custody.stores.idempotency_records` (erasure counts and deletes a customer's records).
Cost is counted in DynamoDB calls, never timed.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws
from pydantic import BaseModel

from custody.declared import datamap, naming
from custody.declared.errors import Forbidden, InvalidInput
from custody.declared.settings import Settings
from custody.platform import idempotency
from custody.platform.aws import clients, reset_clients
from custody.stores import dynamo
from custody.stores.idempotency_records import IdempotencyRecords
from custody.stores.partitions import BATCH_WRITE_MAX, PartialWrite
from devstack.metering import counting_calls
from devstack.runtime import LocalLambdaContext

A, B = "subject-a", "subject-b"
DECLARED = datamap.OPERATIONAL_TABLES["idempotency"]


class Receipt(BaseModel):
    serial: int


@pytest.fixture(scope="module")
def _aws() -> Iterator[None]:
    with mock_aws():
        reset_clients()
        yield
    reset_clients()


@pytest.fixture
def settings(_aws: None) -> Settings:
    """A table of its own for every test, keyed exactly as the data map declares it."""
    settings = Settings(resource_prefix=f"t-{uuid.uuid4().hex[:12]}")
    keys = [(DECLARED.partition_key, "HASH"), *([(DECLARED.sort_key, "RANGE")] if DECLARED.sort_key else [])]
    clients.dynamodb().create_table(
        TableName=settings.table("idempotency"),
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    return settings


@pytest.fixture
def calls(settings: Settings) -> Iterator[Counter[str]]:
    with counting_calls("dynamodb") as counted:
        yield counted


class Work:
    """A request's work: counts its runs and answers with the run's number."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self) -> Receipt:
        self.runs += 1
        return Receipt(serial=self.runs)


def _admit() -> None:
    return None


def _refuse(status: str) -> Callable[[], None]:
    def admit() -> None:
        raise Forbidden("This account is being erased; no data can be added or changed.", {"status": status})

    return admit


def _once(
    settings: Settings,
    subject: str,
    key: str | None,
    work: Callable[[], Receipt],
    admit: Callable[[], None] = _admit,
    route: str = "grant_consent",
) -> Receipt:
    context: Any = LocalLambdaContext.for_call("collect")
    return idempotency.once(settings, context, route, subject, key, Receipt, work, admit=admit)


def _items(settings: Settings) -> list[dict[str, Any]]:
    """Every record of the test's own table (a Scan: inspection only)."""
    return clients.dynamodb().scan(TableName=settings.table("idempotency"))["Items"]


def _seed(settings: Settings, subject: str, count: int) -> None:
    """`count` completed records in the subject's partition, written as Powertools writes them."""
    table = settings.table("idempotency")
    for start in range(0, count, BATCH_WRITE_MAX):
        clients.dynamodb().batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                DECLARED.partition_key: {"S": subject},
                                str(DECLARED.sort_key): {"S": f"grant_consent#{index:032x}"},
                                "status": {"S": "COMPLETED"},
                                "expiration": {"N": "4102444800"},
                                "data": {"S": '{"serial": 1}'},
                            }
                        }
                    }
                    for index in range(start, min(start + BATCH_WRITE_MAX, count))
                ]
            }
        )


# --- the declaration -------------------------------------------------------------------------


def test_the_table_is_partitioned_by_subject_under_a_new_physical_name() -> None:
    assert (DECLARED.partition_key, DECLARED.sort_key) == ("subject_id", "id")
    assert DECLARED.ttl_attribute == "expiration"
    # its key schema changed, so CloudFormation can only replace it under another name (docs/deploy.md)
    assert naming.table_name("crm-custody", "idempotency") == "crm-custody-idempotency-v2"
    assert naming.table_name("crm-custody", "subject_keys") == "crm-custody-subject-keys"


# --- once ------------------------------------------------------------------------------------


def test_a_repeat_replays_and_the_record_lies_in_the_customers_partition(settings: Settings) -> None:
    work = Work()
    first = _once(settings, A, "key-0001", work)
    again = _once(settings, A, "key-0001", work)
    assert (first, again, work.runs) == (Receipt(serial=1), Receipt(serial=1), 1)
    _once(settings, A, "key-0002", work)
    _once(settings, B, "key-0001", work)  # the same key from another customer is another request
    assert work.runs == 3
    partitions_of = Counter(item[DECLARED.partition_key]["S"] for item in _items(settings))
    assert partitions_of == {A: 2, B: 1}
    for item in _items(settings):
        record_id = item[str(DECLARED.sort_key)]["S"]
        assert record_id.startswith("grant_consent#")
        assert A not in record_id
        assert B not in record_id  # the record id is a hash; only the partition names the customer


def test_the_guard_runs_before_the_record_is_read_and_refuses_both_replay_and_run(
    settings: Settings, calls: Counter[str]
) -> None:
    work = Work()
    _once(settings, A, "key-0001", work)
    for status in ("erasing", "erased"):
        calls.clear()
        with pytest.raises(Forbidden) as refused:
            _once(settings, A, "key-0001", work, admit=_refuse(status))  # what was replayable is not
        assert refused.value.details == {"status": status}
        with pytest.raises(Forbidden):
            _once(settings, A, "key-0002", work, admit=_refuse(status))  # nor does a new key run
        assert sum(calls.values()) == 0  # the idempotency table was not even read
    assert work.runs == 1
    assert len(_items(settings)) == 1


def test_without_a_key_the_work_checks_the_subject_itself(settings: Settings, calls: Counter[str]) -> None:
    admitted: list[bool] = []

    def admit() -> None:
        admitted.append(True)

    work = Work()
    assert _once(settings, A, None, work, admit=admit) == Receipt(serial=1)
    assert (admitted, sum(calls.values())) == ([], 0)


def test_a_malformed_key_is_refused_before_the_guard_or_the_table(settings: Settings, calls: Counter[str]) -> None:
    admitted: list[bool] = []

    def admit() -> None:
        admitted.append(True)

    with pytest.raises(InvalidInput):
        _once(settings, A, "bad key!", Work(), admit=admit)
    assert (admitted, sum(calls.values())) == ([], 0)


# --- the repository --------------------------------------------------------------------------


def test_count_reads_the_customers_partition_only(settings: Settings, calls: Counter[str]) -> None:
    _seed(settings, A, 30)
    _seed(settings, B, 400)
    records = IdempotencyRecords(settings)
    calls.clear()
    assert records.count(A, 1) == 1
    assert records.count(A, 10) == 10
    assert records.count(A, 1000) == 30
    assert records.count("nobody", 5) == 0
    assert calls == Counter({"dynamodb.Query": 4})  # one each: O(that customer), never a Scan
    with pytest.raises(ValueError, match="at least 1"):
        records.count(A, 0)


def test_delete_subject_costs_that_customers_records_and_leaves_others(settings: Settings, calls: Counter[str]) -> None:
    records = IdempotencyRecords(settings)
    _seed(settings, A, 60)
    calls.clear()
    assert records.delete_subject(A) == 60
    alone = Counter(calls)
    assert alone == Counter({"dynamodb.Query": 1, "dynamodb.BatchWriteItem": math.ceil(60 / BATCH_WRITE_MAX)})
    assert records.count(A, 1) == 0

    _seed(settings, B, 1000)  # others in the same table change nothing of the cost
    _seed(settings, "subject-c", 60)
    calls.clear()
    assert records.delete_subject("subject-c") == 60
    assert Counter(calls) == alone
    assert records.count(B, 2000) == 1000

    calls.clear()
    assert records.delete_subject(A) == 0  # again: nothing left, nothing deleted, one Query
    assert calls == Counter({"dynamodb.Query": 1})


def test_delete_subject_takes_what_once_wrote(settings: Settings) -> None:
    work = Work()
    for key in ("key-0001", "key-0002", "key-0003"):
        _once(settings, A, key, work)
    _once(settings, B, "key-0001", work)
    records = IdempotencyRecords(settings)
    assert records.count(A, 10) == 3
    assert records.delete_subject(A) == 3
    assert (records.count(A, 10), records.count(B, 10)) == (0, 1)
    assert _once(settings, A, "key-0001", work) == Receipt(serial=5)  # nothing left to replay


def test_unprocessed_deletes_are_retried_after_a_growing_jittered_capped_pause(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(settings, A, 60)
    pauses: list[float] = []
    bounds: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", pauses.append)
    real_uniform = dynamo.random.uniform

    def uniform(low: float, high: float) -> float:
        bounds.append(high)
        return real_uniform(low, high)

    monkeypatch.setattr(dynamo.random, "uniform", uniform)
    client = clients.dynamodb()
    real_batch_write = client.batch_write_item

    def half_processed(RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        """DynamoDB under pressure: the first half of every batch of more than 3 stays unprocessed."""
        [(table, requests)] = RequestItems.items()
        if len(requests) <= 3:
            return real_batch_write(RequestItems=RequestItems)
        done = real_batch_write(RequestItems={table: requests[len(requests) // 2 :]})
        return {**done, "UnprocessedItems": {table: requests[: len(requests) // 2]}}

    with monkeypatch.context() as patched:
        patched.setattr(client, "batch_write_item", half_processed)
        assert IdempotencyRecords(settings).delete_subject(A) == 60
    assert IdempotencyRecords(settings).count(A, 100) == 0
    # 25 → 12 → 6 → 3 left after each call, twice, and 10 → 5 → 2: a pause before every retry
    assert len(pauses) == 3 + 3 + 2
    base = dynamo.BATCH_WRITE_BACKOFF_SECONDS
    assert bounds == [base * 2, base * 4, base * 8] * 2 + [base * 2, base * 4]
    assert all(0 <= pause <= bound for pause, bound in zip(pauses, bounds, strict=True))


def test_a_batch_still_undone_after_its_retries_is_a_partial_write(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(settings, A, 10)
    pauses: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", pauses.append)
    client = clients.dynamodb()

    def never_processed(RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        return {"UnprocessedItems": RequestItems}

    with monkeypatch.context() as patched:
        patched.setattr(client, "batch_write_item", never_processed)
        with pytest.raises(PartialWrite) as partial:
            IdempotencyRecords(settings).delete_subject(A)
    assert partial.value.count == 10
    assert len(pauses) == dynamo.BATCH_WRITE_ATTEMPTS - 1
    assert all(pause <= dynamo.BATCH_WRITE_BACKOFF_CAP_SECONDS for pause in pauses)
    assert IdempotencyRecords(settings).delete_subject(A) == 10  # the state's retry deletes what was left
    assert IdempotencyRecords(settings).count(A, 100) == 0


def test_completing_a_record_the_erasure_deleted_never_recreates_it() -> None:
    """`make soak` found a request's idempotency record completed after the certificate, re-created."""
    from botocore.exceptions import ClientError

    from custody.platform.idempotency import _CompletionsNeverRecreate

    calls: list[dict[str, Any]] = []

    class Client:
        def update_item(self, **request: Any) -> dict[str, Any]:
            calls.append(request)
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem")

        def get_item(self, **request: Any) -> str:
            return "passed through"

    proxy = _CompletionsNeverRecreate(Client(), "subject_id")
    assert (
        proxy.update_item(TableName="t", Key={}, UpdateExpression="SET a = :a", ExpressionAttributeNames={"#a": "a"})
        == {}
    )
    assert calls[0]["ConditionExpression"] == "attribute_exists(#record_partition)"
    assert calls[0]["ExpressionAttributeNames"] == {"#a": "a", "#record_partition": "subject_id"}
    assert proxy.get_item(TableName="t") == "passed through"
