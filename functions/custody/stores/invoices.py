"""The `invoices` store: invoices issued to a customer, sealed with their key for tax records, expiring by TTL.

Item: `{subject_id, invoice_key: "<at>#<id>", created_at, recorded_by, grant_id, kept_until (the last
day the legal obligation keeps it, YYYY-MM-DD), expires_at (TTL, epoch seconds: the end of that day),
fields: {name: sealed value}}`. The sealed fields are the category's (`datamap.category("invoices")`);
the obligation's dates are plain (`datamap.KEPT_UNTIL`), as Freeze reads them without the key
(`TablePartition.kept_until`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "invoices"
PARTITION_KEY: Final = "subject_id"
# `<created at>#<uuid>`: a time and an id, never personal data, so a cursor may carry it.
SORT_KEY: Final = "invoice_key"
KEPT_UNTIL: Final = datamap.KEPT_UNTIL


class InvoicesTable:
    """The `invoices` table of `settings`, keyed `(subject_id, invoice_key)`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def items(self, subject_id: str, after: str | None = None) -> Iterator[dict[str, Any]]:
        """The customer's invoices (sealed), oldest first, from the start or past `invoice_key` `after`.

        Consistent read, page by page as they are drawn. The partition is always `subject_id`'s.
        """
        resume = (SORT_KEY, after) if after is not None else None
        return dynamo.query_partition(self.table, PARTITION_KEY, subject_id, after=resume)

    def count(self, subject_id: str) -> int:
        """How many invoices the customer has (`Select=COUNT`)."""
        return dynamo.count_partition(self.table, PARTITION_KEY, subject_id)

    def add(self, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        """The transaction item that records an invoice: a put of `item`'s plain values, never over another."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.to_item(item),
                "ConditionExpression": "attribute_not_exists(#sk)",
                "ExpressionAttributeNames": {"#sk": SORT_KEY},
            }
        }
