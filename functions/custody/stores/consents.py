"""The `consents` store: the append-only consent ledger, one event per grant or withdrawal.

Event: `{subject_id, event_key: "<at>#<event id>", purpose, action, policy_version, channel, at}`;
never updated, never deleted but by erasure. The purposes currently granted live on the
subject's record, written in the same transaction as each event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from custody.declared.settings import Settings
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "consents"


class ConsentsTable:
    """The `consents` table of `settings`: a customer's consent events, keyed `(subject_id, event_key)`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def history(self, subject_id: str) -> list[dict[str, Any]]:
        """Every consent event of the customer, oldest first (`event_key` starts with its time); consistent read."""
        return list(dynamo.query_partition(self.table, "subject_id", subject_id))

    def append(self, event: dict[str, Any]) -> TransactWriteItemTypeDef:
        """The transaction item that appends an event (refused if its key exists: append-only)."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.to_item(event),
                "ConditionExpression": "attribute_not_exists(event_key)",
            }
        }
