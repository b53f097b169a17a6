"""The `processors` table: the sub-processor registry, one data-processing agreement per processor.

One item per `processor_id` (a company, not a person): the agreement's terms, its principal
(the machine client that acts for it) and who recorded it when. The `by_principal` index finds
the agreement that names a principal. Listing the registry is a Scan of a table bounded by the
number of contracts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

TABLE: Final = "processors"


class ProcessorsTable:
    """The `processors` table of `settings`: one agreement item per `processor_id`.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def put(self, agreement: dict[str, Any]) -> None:
        """Record (or replace) an agreement, keyed by its `processor_id`."""
        clients.dynamodb().put_item(TableName=self.table, Item=dynamo.to_item(agreement))

    def get(self, processor_id: str) -> dict[str, Any] | None:
        """The agreement of `processor_id` (consistent read), or None when none is recorded."""
        return dynamo.get(self.table, {"processor_id": processor_id})

    def acting_for(self, principal: str, limit: int = 2) -> list[str]:
        """Up to `limit` processor ids whose agreement names this principal (one Query of the index)."""
        response = clients.dynamodb().query(
            TableName=self.table,
            IndexName=datamap.PRINCIPAL_INDEX,
            KeyConditionExpression="principal = :principal",
            ExpressionAttributeValues=dynamo.to_values({":principal": principal}),
            Limit=limit,
        )
        return [str(dynamo.from_item(item)["processor_id"]) for item in response.get("Items", [])]

    def all(self) -> Iterator[dict[str, Any]]:
        """Every agreement (a Scan, page by page)."""
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            response = clients.dynamodb().scan(**kwargs)
            for item in response.get("Items", []):
                yield dynamo.from_item(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
