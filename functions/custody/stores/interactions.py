"""The `interactions` store: orders and support tickets staff record, sealed, expiring by TTL.

Item: `{subject_id, interaction_key: "<at>#<id>", created_at, recorded_by, grant_id,
expires_at (TTL, epoch seconds), fields: {name: sealed value}}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from custody.declared.settings import Settings
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "interactions"


class InteractionsTable:
    """The `interactions` table of `settings`: orders and tickets, keyed `(subject_id, interaction_key)`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def items(self, subject_id: str) -> list[dict[str, Any]]:
        """Every interaction of the customer (sealed), oldest first; consistent read."""
        return list(dynamo.query_partition(self.table, "subject_id", subject_id))

    def add(self, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        """The transaction item that records an interaction (an unconditional put of `item`'s plain values)."""
        return {"Put": {"TableName": self.table, "Item": dynamo.to_item(item)}}
