"""The `audit_chains` table: the head (seq, hash) of every audit chain, claimed before an event is written.

One item per chain: `{chain_id, seq, hash, updated_at}`. A writer claims the next seq with a
write conditional on the head it read, so concurrent appends to one chain are serialized here
and never fork it; a claim whose event could not be written is given back if nobody claimed past it.
A refused claim answers the head that refused it (`ReturnValuesOnConditionCheckFailure=ALL_OLD`:
"no read capacity units are consumed", DynamoDB API reference, UpdateItem), so the writer's next
try costs one call, not a read and a claim.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from botocore.exceptions import ClientError

from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

TABLE: Final = "audit_chains"


class Claim(NamedTuple):
    """A claim's answer: `won`, or the head item that refused it (`{chain_id, seq, hash, updated_at}`).

    A refused claim's `head` is None when the chain has no head item (it was released to nothing).
    """

    won: bool
    head: dict[str, Any] | None = None


class AuditChainsTable:
    """The `audit_chains` table of `settings`: one head item `{chain_id, seq, hash, updated_at}` per chain.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def head(self, chain_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        """The chain's head item, or None for a chain not started."""
        return dynamo.get(self.table, {"chain_id": chain_id}, consistent=consistent)

    def claim(self, chain_id: str, seq: int, event_hash: str, at: str, previous_seq: int | None) -> Claim:
        """Make `seq` the chain's head if the head is still `previous_seq` (None: the chain is new).

        One `UpdateItem`. When another writer moved the head first nothing is written and the answer
        carries the head as DynamoDB found it. Other DynamoDB errors raise `ClientError`.
        """
        condition = "attribute_not_exists(chain_id)" if previous_seq is None else "seq = :previous"
        values: dict[str, Any] = {":seq": seq, ":hash": event_hash, ":at": at}
        if previous_seq is not None:
            values[":previous"] = previous_seq
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"chain_id": chain_id}),
                UpdateExpression="SET seq = :seq, #hash = :hash, updated_at = :at",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#hash": "hash"},
                ExpressionAttributeValues=dynamo.to_values(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                found = error.response.get("Item")
                return Claim(False, dynamo.from_item(found) if isinstance(found, dict) and found else None)
            raise
        return Claim(True)

    def release(self, chain_id: str, seq: int, previous: dict[str, Any] | None) -> None:
        """Put the head back to `previous` (None: remove the chain) if it is still `seq`.

        Raises what DynamoDB raised (the caller decides whether a gap is worth failing over).
        """
        claimed = dynamo.to_values({":seq": seq})
        if previous:
            clients.dynamodb().put_item(
                TableName=self.table,
                Item=dynamo.to_item(previous),
                ConditionExpression="seq = :seq",
                ExpressionAttributeValues=claimed,
            )
        else:
            clients.dynamodb().delete_item(
                TableName=self.table,
                Key=dynamo.to_item({"chain_id": chain_id}),
                ConditionExpression="seq = :seq",
                ExpressionAttributeValues=claimed,
            )
