"""The DynamoDB data-access helpers every store shares: plain dicts in, AttributeValues out.

Transactions are how CRM Custody keeps "nothing is written when a request is refused": every
write a request makes goes into one `TransactWriteItems`, guarded by conditions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from custody.platform.aws import clients

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef, WriteRequestTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

MAX_TRANSACTION_ITEMS = 100
BATCH_WRITE_MAX: Final = 25  # BatchWriteItem's limit of put and delete requests per call
# Unprocessed items are DynamoDB's way of saying the partition is busy: retrying at once meets the same
# throttle. The AWS guidance ("Error retries and exponential backoff", DynamoDB developer guide) is
# exponential backoff; with full jitter over a capped exponential, attempt n waits uniform(0,
# min(CAP, BASE * 2**n)): eight attempts wait at most 0.1+0.2+0.4+0.8+1.6+2+2 = 7.1 s in all.
BATCH_WRITE_ATTEMPTS: Final = 8
BATCH_WRITE_BACKOFF_SECONDS: Final = 0.05
BATCH_WRITE_BACKOFF_CAP_SECONDS: Final = 2.0


class TransactionConflict(Exception):
    """A condition in the transaction did not hold; `reasons` are the per-item cancellation codes."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("transaction cancelled: " + ", ".join(reasons))
        self.reasons = reasons

    def failed_at(self, index: int) -> bool:
        """Whether item `index` of the transaction (0-based, in the order given) failed its condition."""
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def is_condition_failure(error: ClientError) -> bool:
    """Whether a botocore `ClientError` is DynamoDB's refused condition (`ConditionalCheckFailedException`)."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """A plain dict as a DynamoDB item (attribute name -> AttributeValue); None values are left out.

    Raises `TypeError` for a value boto3 cannot serialize, a `float` among them (DynamoDB numbers are
    `int` or `Decimal`).
    """
    return {name: _serializer.serialize(value) for name, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values.

    Numbers become `int` when integral, else `float`, inside lists, maps and sets too; binary stays
    boto3's `Binary`.
    """
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def to_values(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """Expression attribute values: `{":v": 1}` → `{":v": {"N": "1"}}`."""
    return {name: _serializer.serialize(value) for name, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, set):
        return {_plain(item) for item in value}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def get(table: str, key: Mapping[str, Any], *, consistent: bool = True) -> dict[str, Any] | None:
    """The item of primary key `key` (plain values) in `table` as plain values, or None.

    Strongly consistent unless `consistent` is false. DynamoDB errors pass through as botocore's
    `ClientError`.
    """
    response = clients.dynamodb().get_item(TableName=table, Key=to_item(key), ConsistentRead=consistent)
    item = response.get("Item")
    return from_item(item) if item else None


def query_partition(
    table: str,
    partition_key: str,
    value: str,
    *,
    consistent: bool = True,
    after: tuple[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item of one partition in sort-key order, page by page: the O(one customer) read of a store.

    `after` = (sort key name, value) starts past that sort key value (a key condition `>`, so the value
    need not be an item's). The partition is always `value`, whatever `after` says.
    """
    kwargs = _partition_query(table, partition_key, value, consistent, after)
    while True:
        response = clients.dynamodb().query(**kwargs)
        for item in response.get("Items", []):
            yield from_item(item)
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def count_partition(table: str, partition_key: str, value: str, *, consistent: bool = True) -> int:
    """How many items one partition holds: `Query` with `Select=COUNT`, page by page.

    Cost: DynamoDB reads every item it counts (up to 1 MB per call, billed as a read of that data;
    DynamoDB Developer Guide, "Query": "Select ... COUNT"); nothing is returned to the function.
    """
    kwargs = _partition_query(table, partition_key, value, consistent, None)
    kwargs["Select"] = "COUNT"
    total = 0
    while True:
        response = clients.dynamodb().query(**kwargs)
        total += int(response.get("Count", 0))
        last = response.get("LastEvaluatedKey")
        if not last:
            return total
        kwargs["ExclusiveStartKey"] = last


def partition_has_items(table: str, partition_key: str, value: str, *, consistent: bool = True) -> bool:
    """Whether one partition holds any item: one `Query` with `Limit=1` and `Select=COUNT`."""
    kwargs = _partition_query(table, partition_key, value, consistent, None)
    response = clients.dynamodb().query(**kwargs, Select="COUNT", Limit=1)
    return int(response.get("Count", 0)) > 0


def _partition_query(
    table: str, partition_key: str, value: str, consistent: bool, after: tuple[str, str] | None
) -> dict[str, Any]:
    names = {"#pk": partition_key}
    values: dict[str, Any] = {":pk": value}
    condition = "#pk = :pk"
    if after is not None:
        names["#sk"], values[":after"] = after
        condition += " AND #sk > :after"
    return {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_values(values),
        "ConsistentRead": consistent,
    }


def transact(items: Sequence[TransactWriteItemTypeDef], *, token: str | None = None) -> None:
    """One atomic write (`TransactWriteItems`); raises `TransactionConflict` when a condition fails.

    `items` may hold at most `MAX_TRANSACTION_ITEMS`, DynamoDB's limit of 100 actions per transaction
    (no two of which may touch one item): more raise `ValueError` before any call; none makes no call.
    `token` is the `ClientRequestToken`, under which a repeat within 10 minutes has no further effect.
    A cancellation for any other reason (a concurrent transaction, throttling) and every other error
    pass through as botocore's `ClientError`.
    """
    if not items:
        return
    if len(items) > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} items, got {len(items)}")
    kwargs: dict[str, Any] = {"TransactItems": list(items)}
    if token:
        kwargs["ClientRequestToken"] = token
    try:
        clients.dynamodb().transact_write_items(**kwargs)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" not in reasons:
            raise
        raise TransactionConflict(reasons) from None


def backoff_seconds(attempt: int) -> float:
    """The pause before retry `attempt` (1-based) of unprocessed items: full jitter, capped.

    Uniform in [0, min(BATCH_WRITE_BACKOFF_CAP_SECONDS, BATCH_WRITE_BACKOFF_SECONDS * 2 ** attempt)].
    """
    ceiling = min(BATCH_WRITE_BACKOFF_CAP_SECONDS, BATCH_WRITE_BACKOFF_SECONDS * 2 ** min(attempt, 16))
    return random.uniform(0.0, ceiling)  # noqa: S311 - jitter, not secrecy


def batch_write(table: str, requests: Sequence[WriteRequestTypeDef]) -> list[WriteRequestTypeDef]:
    """One `BatchWriteItem` of at most `BATCH_WRITE_MAX` requests, its unprocessed items retried with backoff.

    Up to `BATCH_WRITE_ATTEMPTS` calls, each retry after `backoff_seconds`. Returns the requests still
    unprocessed after the last (empty when all were done). Raises `ValueError` for more than
    `BATCH_WRITE_MAX` requests; DynamoDB errors pass through as botocore's `ClientError`.
    """
    if len(requests) > BATCH_WRITE_MAX:
        raise ValueError(f"a batch write holds at most {BATCH_WRITE_MAX} requests, got {len(requests)}")
    pending = list(requests)
    for attempt in range(BATCH_WRITE_ATTEMPTS):
        if not pending:
            break
        if attempt:
            time.sleep(backoff_seconds(attempt))
        response = clients.dynamodb().batch_write_item(RequestItems={table: pending})
        pending = cast("list[WriteRequestTypeDef]", response.get("UnprocessedItems", {}).get(table, []))
    return pending
