"""The fault hook itself (devstack.faults) and the transient-error mapping (custody.platform.transient)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from custody.erasure.errors import TransientError
from custody.platform.aws import CLIENT_CONFIG
from custody.platform.transient import is_transient, transient_as
from devstack.faults import Fault, FaultInjector, FaultPlan, instant_retries


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws(), instant_retries():
        client = boto3.client("dynamodb", region_name="us-east-1", config=CLIENT_CONFIG)
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _keys(client: Any) -> set[str]:
    return {item["k"]["S"] for item in client.scan(TableName="t")["Items"]}


def test_a_throttle_below_the_retries_is_retried_by_botocore_and_never_reaches_the_service(table: Any) -> None:
    injector = FaultInjector(FaultPlan(seed=1, rate=1.0, faults=(Fault.THROTTLE,)))
    injector.attach(table)
    with pytest.raises(ClientError) as raised:
        table.put_item(TableName="t", Item={"k": {"S": "a"}})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == CLIENT_CONFIG.retries["total_max_attempts"] - 1
    assert injector.log.injected[Fault.THROTTLE.value] == CLIENT_CONFIG.retries["total_max_attempts"]
    with injector.paused():
        assert _keys(table) == set()


def test_a_timeout_is_raised_as_botocore_raises_it(table: Any) -> None:
    injector = FaultInjector(FaultPlan(seed=1, rate=1.0, faults=(Fault.READ_TIMEOUT,)))
    injector.attach(table)
    with pytest.raises(ReadTimeoutError):
        table.get_item(TableName="t", Key={"k": {"S": "a"}})


def test_a_partial_batch_performs_only_what_it_does_not_report_unprocessed(table: Any) -> None:
    injector = FaultInjector(FaultPlan(seed=3, partial_rate=1.0, faults=(Fault.PARTIAL_BATCH,)))
    injector.attach(table)
    requests = [{"PutRequest": {"Item": {"k": {"S": key}}}} for key in "abcd"]
    answer = table.batch_write_item(RequestItems={"t": requests})
    unprocessed = {item["PutRequest"]["Item"]["k"]["S"] for item in answer["UnprocessedItems"]["t"]}
    assert 1 <= len(unprocessed) <= 3
    with injector.paused():
        assert _keys(table) == set("abcd") - unprocessed


def test_the_same_seed_injects_the_same_faults(table: Any) -> None:
    outcomes = []
    for _ in range(2):
        injector = FaultInjector(FaultPlan(seed=7, rate=0.5, faults=(Fault.SERVER_ERROR,)))
        client = boto3.client("dynamodb", region_name="us-east-1", config=CLIENT_CONFIG)
        injector.attach(client)
        for index in range(10):
            with contextlib.suppress(ClientError):
                client.get_item(TableName="t", Key={"k": {"S": str(index)}})
        outcomes.append(dict(injector.log.injected))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0]


def test_transient_failures_are_named_for_the_state_machines_retry() -> None:
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "X"
    )
    internal = ClientError({"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "X")
    refused = ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "X")
    assert is_transient(throttled)
    assert is_transient(internal)
    assert is_transient(ReadTimeoutError(endpoint_url="https://x"))
    assert is_transient(EndpointConnectionError(endpoint_url="https://x"))  # no answer at all
    assert is_transient(ConnectTimeoutError(endpoint_url="https://x"))
    assert not is_transient(refused)
    assert not is_transient(ValueError("x"))

    @transient_as(TransientError)
    def step(error: Exception) -> None:
        raise error

    with pytest.raises(TransientError):
        step(throttled)
    with pytest.raises(ClientError):
        step(refused)
