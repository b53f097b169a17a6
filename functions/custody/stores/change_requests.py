"""The `change_requests` store: requested changes to verified fields, and their review.

Item: `{subject_id, change_request_id, field, status, pending? (the sparse review-queue index's
key, removed on decision), created_at, decided_at?, decided_by?, fields: {value, reason,
decision_reason?} sealed}`. The review queue is a Query of the `pending` index, never a Scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE: Final = "change_requests"
PENDING_ATTRIBUTE: Final = "pending"
FIELDS: Final = "fields"


class ChangeRequestsTable:
    """The `change_requests` table of `settings`, keyed `(subject_id, change_request_id)`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def add(self, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        """The transaction item that records a new change request (an unconditional put of `item`'s plain values)."""
        return {"Put": {"TableName": self.table, "Item": dynamo.to_item(item)}}

    def items(self, subject_id: str) -> list[dict[str, Any]]:
        """Every change request of the customer (values sealed); consistent read."""
        return list(dynamo.query_partition(self.table, "subject_id", subject_id))

    def get(self, subject_id: str, change_request_id: str) -> dict[str, Any] | None:
        """One change request of the customer (consistent read), or None."""
        return dynamo.get(self.table, {"subject_id": subject_id, "change_request_id": change_request_id})

    def pending(self, status: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` requests awaiting review, oldest first (the sparse `pending` index)."""
        response = clients.dynamodb().query(
            TableName=self.table,
            IndexName=datamap.PENDING_INDEX,
            KeyConditionExpression="#pending = :pending",
            ExpressionAttributeNames={"#pending": PENDING_ATTRIBUTE},
            ExpressionAttributeValues=dynamo.to_values({":pending": status}),
            Limit=limit,
        )
        return [dynamo.from_item(item) for item in response.get("Items", [])]

    def decide(
        self,
        subject_id: str,
        change_request_id: str,
        *,
        open_status: str,
        status: str,
        at: str,
        officer: str,
        sealed_reason: str,
    ) -> TransactWriteItemTypeDef:
        """The transaction item that closes a request still `open_status`.

        It sets the new `status`, who decided (`officer`) and when (`at`), the sealed reason, and takes
        the request out of the review queue; the transaction fails if the request is no longer open.
        """
        return {
            "Update": {
                "TableName": self.table,
                "Key": dynamo.to_item({"subject_id": subject_id, "change_request_id": change_request_id}),
                "UpdateExpression": (
                    "SET #status = :status, decided_at = :at, decided_by = :officer, #fields.decision_reason = :reason "
                    "REMOVE #pending"
                ),
                "ConditionExpression": "#status = :open",
                "ExpressionAttributeNames": {"#status": "status", "#fields": FIELDS, "#pending": PENDING_ATTRIBUTE},
                "ExpressionAttributeValues": dynamo.to_values(
                    {":status": status, ":open": open_status, ":at": at, ":officer": officer, ":reason": sealed_reason}
                ),
            }
        }
