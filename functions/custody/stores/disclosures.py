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
    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def items(self, subject_id: str) -> list[dict[str, Any]]:
        return list(dynamo.query_partition(self.table, "subject_id", subject_id))

    def add(self, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        return {"Put": {"TableName": self.table, "Item": dynamo.to_item(item)}}
