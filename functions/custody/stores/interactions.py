"""The `interactions` store: orders and support tickets staff record, sealed, expiring by TTL.

Item: `{subject_id, interaction_key: "<at>#<id>", created_at, recorded_by, grant_id,
expires_at (TTL, epoch seconds), fields: {name: sealed value}}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from custody.declared.settings import Settings
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "interactions"
PARTITION_KEY: Final = "subject_id"
# `<created at>#<uuid>`: a time and an id, never personal data, so a cursor may carry it.
SORT_KEY: Final = "interaction_key"


class InteractionsTable:
    """The `interactions` table of `settings`: orders and tickets, keyed `(subject_id, interaction_key)`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def items(self, subject_id: str, after: str | None = None) -> Iterator[dict[str, Any]]:
        """The customer's interactions (sealed), oldest first, from the start or past `interaction_key` `after`.

        Consistent read, page by page as they are drawn. The partition is always `subject_id`'s.
        """
        resume = (SORT_KEY, after) if after is not None else None
        return dynamo.query_partition(self.table, PARTITION_KEY, subject_id, after=resume)

    def count(self, subject_id: str) -> int:
        """How many interactions the customer has (`Select=COUNT`: DynamoDB bills every item counted as read)."""
        return dynamo.count_partition(self.table, PARTITION_KEY, subject_id)

    def any(self, subject_id: str) -> bool:
        """Whether the customer has any interaction (one `Query`, `Limit=1`)."""
        return dynamo.partition_has_items(self.table, PARTITION_KEY, subject_id)

    def add(self, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        """The transaction item that records an interaction (an unconditional put of `item`'s plain values)."""
        return {"Put": {"TableName": self.table, "Item": dynamo.to_item(item)}}
