"""Where moto is lenient and DynamoDB is not, the local stack refuses as DynamoDB does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import strictness

KEY = {"pk": {"S": "a"}, "sk": {"S": "b"}}


@pytest.fixture
def table() -> Iterator[Any]:
    strictness.install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(
                TableName="t",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            client.put_item(TableName="t", Item={**KEY, "category": {"S": "contact"}})
            yield client
    finally:
        strictness.uninstall()


@pytest.mark.parametrize(
    "key",
    [{**KEY, "category": {"S": "contact"}}, {"pk": {"S": "a"}}],
    ids=["an attribute beyond the key", "half the key"],
)
def test_a_batch_delete_by_anything_but_the_key_is_refused_and_deletes_nothing(table: Any, key: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as refused:
        table.batch_write_item(RequestItems={"t": [{"DeleteRequest": {"Key": key}}]})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" in table.get_item(TableName="t", Key=KEY)


def test_a_batch_delete_by_the_key_deletes(table: Any) -> None:
    table.batch_write_item(RequestItems={"t": [{"DeleteRequest": {"Key": KEY}}]})
    assert "Item" not in table.get_item(TableName="t", Key=KEY)
