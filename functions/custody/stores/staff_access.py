"""The `staff_access` store: a customer's need-to-know grants and every staff read, in their partition.

Items are keyed `(subject_id, access_key)`: `grant#<grant id>` for a grant (its purpose,
ticket, categories, status, expiry, who asked and who approved), `read#<time>#<read id>` for a
read (who, when, grant, purpose, ticket, categories). The customer sees them in their access
report; erasure deletes the partition with the rest of their data. Every write is a transaction
item: the caller joins it to the subject's fence (`SubjectRegistry.fence`), so no grant, approval
or read log lands once the customer's erasure has started.

Every item carries the store's TTL attribute `retained_until` (epoch seconds, `retained_until()`):
the data map's retention of the access log past a read, or past a grant's expiry. Every write
here takes it, so none can be written without; DynamoDB's TTL deletes the item after that time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "staff_access"
GRANT_PREFIX: Final = "grant#"
READ_PREFIX: Final = "read#"
SECONDS_PER_DAY: Final = 86_400


TTL_ATTRIBUTE: Final = datamap.ttl_attribute(TABLE)
RETENTION_DAYS: Final = datamap.category(TABLE).retention_days or datamap.ACCESS_LOG_RETENTION_DAYS


def retained_until(start: float) -> int:
    """The access log's TTL for an entry whose retention starts at `start` (epoch seconds): plus the retention."""
    return int(start) + RETENTION_DAYS * SECONDS_PER_DAY


class StaffAccessTable:
    """The `staff_access` table of `settings`: grants and reads in the customer's partition.

    Writes are transaction items for `stores.dynamo.transact`; reads pass DynamoDB errors through as
    botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def new_grant(self, item: dict[str, Any], kept_until: int) -> TransactWriteItemTypeDef:
        """The put of a new grant (its `access_key` is `grant#<id>`; refused if that key exists).

        `kept_until`: its TTL (epoch seconds, `retained_until` of the time it stops being usable).
        """
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.to_item({**item, TTL_ATTRIBUTE: kept_until}),
                "ConditionExpression": "attribute_not_exists(access_key)",
            }
        }

    def grant(self, subject_id: str, grant_id: str) -> dict[str, Any] | None:
        """The grant item `grant#<grant_id>` in the customer's partition (consistent read), or None."""
        return dynamo.get(self.table, {"subject_id": subject_id, "access_key": GRANT_PREFIX + grant_id})

    def approval(
        self, subject_id: str, grant_id: str, *, pending: str, active: str, officer: str, at: str, expires_at: int
    ) -> TransactWriteItemTypeDef:
        """The update that moves a grant from `pending` to `active` (its condition fails when no longer pending).

        Its TTL moves to `retained_until(expires_at)`.
        """
        values = {
            ":active": active,
            ":pending": pending,
            ":officer": officer,
            ":at": at,
            ":exp": expires_at,
            ":kept": retained_until(expires_at),
        }
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject_id, "access_key": GRANT_PREFIX + grant_id}),
                "UpdateExpression": (
                    "SET #status = :active, approved_by = :officer, approved_at = :at, expires_at = :exp, #ttl = :kept"
                ),
                "ConditionExpression": "#status = :pending",
                "ExpressionAttributeNames": {"#status": "status", "#ttl": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": dynamo.to_values(values),
            }
        }

    def read_entry(
        self, subject_id: str, at: str, read_id: str, values: dict[str, Any], *, read_at: float
    ) -> TransactWriteItemTypeDef:
        """The put of one staff read in the customer's access log (`read#<at>#<read id>`).

        `read_at`: the read's time in epoch seconds, from which its TTL is `retained_until(read_at)`.
        """
        item = {
            "subject_id": subject_id,
            "access_key": f"{READ_PREFIX}{at}#{read_id}",
            "kind": "read",
            **values,
            TTL_ATTRIBUTE: retained_until(read_at),
        }
        return {"Put": {"TableName": self.table, "Item": dynamo.to_item(item)}}
