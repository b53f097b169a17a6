"""The `profiles` store: one item per (customer, category), every field sealed with the customer's key.

Item: `{subject_id, category, fields: {name: sealed value}, updated_at}`. Writes are transaction
items, so a profile change commits with the subject's version guard (`SubjectRegistry.touch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from custody.declared.settings import Settings
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "profiles"
FIELDS: Final = "fields"


class ProfilesTable:
    """The `profiles` table of `settings`: one sealed item per `(subject_id, category)`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def items(self, subject_id: str) -> list[dict[str, Any]]:
        """The customer's category items (sealed), consistently read."""
        return list(dynamo.query_partition(self.table, "subject_id", subject_id))

    def get(self, subject_id: str, category: str) -> dict[str, Any] | None:
        """The customer's item of `category` (sealed; consistent read), or None."""
        return dynamo.get(self.table, {"subject_id": subject_id, "category": category})

    def put(self, subject_id: str, category: str, fields: dict[str, str], at: str) -> TransactWriteItemTypeDef:
        """The transaction item that stores a category's sealed fields."""
        item = {"subject_id": subject_id, "category": category, FIELDS: fields, "updated_at": at}
        return {"Put": {"TableName": self.table, "Item": dynamo.to_item(item)}}

    def delete(self, subject_id: str, category: str) -> TransactWriteItemTypeDef:
        """The transaction item that removes a category."""
        return {
            "Delete": {"TableName": self.table, "Key": dynamo.to_item({"subject_id": subject_id, "category": category})}
        }
