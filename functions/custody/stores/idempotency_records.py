"""The `idempotency` table, one customer at a time: what erasure finds and deletes of it.

Powertools writes and reads the records (`custody.platform.idempotency`, which hands it the
table, its key names and the customer's `subject_id` as the partition value). This repository
owns the rest of the table's life: each record lies in its customer's own partition, so a
customer's records are counted and deleted with Queries of that partition alone, O(that
customer's records), never a Scan. The records hold hashed keys and replayable responses, no
submitted value; they are deleted with the customer anyway, because they are the customer's
(a replay of them is refused once the erasure began, and nothing of them should outlive it).

DynamoDB errors pass through as botocore's `ClientError`; a delete batch still partly undone
after its retries raises `custody.stores.partitions.PartialWrite`, which a workflow step reports
as transient (its state retries, and `delete_subject` again deletes what is left).
"""

from __future__ import annotations

from typing import Any, Final

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo
from custody.stores.partitions import BATCH_WRITE_MAX, TablePartition

TABLE: Final = "idempotency"


class IdempotencyRecords:
    """The idempotency records of one customer at a time, in the `idempotency` table of `settings`."""

    def __init__(self, settings: Settings) -> None:
        self.declared = datamap.OPERATIONAL_TABLES[TABLE]
        self.table = settings.table(TABLE)
        self._partition = TablePartition(settings, self.declared)

    def count(self, subject_id: str, limit: int) -> int:
        """How many records the customer has, counting at most `limit` (a consistent Query of their partition).

        Nothing but the count is returned by DynamoDB (`Select=COUNT`); it reads one page per
        `limit` records at most, so `count(subject, 1)` — "is anything left?" — is one call.
        Raises `ValueError` when `limit` is below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": self.declared.partition_key},
            "ExpressionAttributeValues": dynamo.to_values({":pk": subject_id}),
            "ConsistentRead": True,
            "Select": "COUNT",
        }
        counted = 0
        while counted < limit:
            response = clients.dynamodb().query(**kwargs, Limit=limit - counted)
            counted += response.get("Count", 0)
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return min(counted, limit)

    def delete_subject(self, subject_id: str) -> int:
        """Delete every record of the customer; returns how many were deleted (0 when none was left).

        Their partition's keys are read page by page (consistent, keys only) and deleted 25 at a
        time by `BatchWriteItem` as they come, unprocessed items retried after a jittered pause:
        ⌈N/25⌉ deletes and about one Query per page for N records. Idempotent: a second run finds
        nothing and deletes nothing. Raises `PartialWrite` when a batch stays partly undone.
        """
        deleted = 0
        batch: list[dict[str, Any]] = []
        for key in self._partition.keys(subject_id):
            batch.append(key)
            if len(batch) == BATCH_WRITE_MAX:
                deleted += self._partition.delete(batch)
                batch = []
        if batch:
            deleted += self._partition.delete(batch)
        return deleted
