"""The `disclosures` store: what went to which sub-processor, when, under which agreement.

Item: `{subject_id, disclosure_key: "<at>#<id>", processor_id, categories, agreement_version,
disclosed_by, disclosed_at}` — category names and ids, no values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from custody.declared.settings import Settings
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "disclosures"


class DisclosuresTable:
    """The `disclosures` table of `settings`: what went to which sub-processor, keyed `(subject_id, disclosure_key)`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def items(self, subject_id: str) -> list[dict[str, Any]]:
        """Every disclosure of the customer, oldest first (`disclosure_key` starts with its time); consistent read."""
        return list(dynamo.query_partition(self.table, "subject_id", subject_id))

    def add(self, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        """The transaction item that records a disclosure (an unconditional put of `item`'s plain values)."""
        return {"Put": {"TableName": self.table, "Item": dynamo.to_item(item)}}
