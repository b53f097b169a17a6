"""The `erasure_slots` table: which erasure executions run now, so that no more than the capacity do.

One item per pool: `{pool_id: "erasure", running: {<execution name>: <claimed at>}}`. A slot is
claimed by one conditional `UpdateItem` — the name is added to `running` only while the map holds
fewer names than the limit (`size(running) < :limit`), or already holds this one (claiming twice
claims once) — and released by removing the name (releasing twice releases once). DynamoDB applies
each update to the item atomically, so concurrent claims can never fill more slots than the limit.

The item is small: an entry is an execution name (at most 80 characters) and a timestamp, so at
`Settings.erasure_concurrency`'s bound (500) the item stays under 64 KB of DynamoDB's 400 KB. Each
write is billed by the item's size (1 WCU per KB): 20 slots are about 2 WCU a claim. The names are
request ids (`<uuid>` or `<uuid>-rerun-<n>`): no personal data. This module is the only code that
reads or writes the table.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

from custody.declared import naming
from custody.declared.clock import now_iso
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

TABLE: Final = naming.ERASURE_SLOTS
POOL: Final = "erasure"
RUNNING: Final = "running"


class ErasureSlots:
    """The repository of the `erasure_slots` table (one pool, the erasure workflow's)."""

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)
        self.capacity = settings.erasure_concurrency

    def claim(self, name: str, limit: int | None = None) -> bool:
        """Take a slot for the execution `name` while fewer than `limit` (default: the capacity) are taken.

        Returns whether the execution holds a slot now (True too when it already held one). One
        `UpdateItem`; the first claim ever also makes the pool's item (an update cannot set a key in
        a map that does not exist). DynamoDB errors other than the refused condition pass through as
        botocore's `ClientError`.
        """
        for _ in range(2):
            try:
                clients.dynamodb().update_item(
                    TableName=self.table,
                    Key=dynamo.to_item({"pool_id": POOL}),
                    UpdateExpression="SET #running.#name = if_not_exists(#running.#name, :at)",
                    ConditionExpression="attribute_exists(#running) AND "
                    "(attribute_exists(#running.#name) OR size(#running) < :limit)",
                    ExpressionAttributeNames={"#running": RUNNING, "#name": name},
                    ExpressionAttributeValues=dynamo.to_values({":at": now_iso(), ":limit": limit or self.capacity}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not dynamo.is_condition_failure(error):
                    raise
                if error.response.get("Item"):
                    return False  # the pool exists and is full
                self._make_pool()
                continue
            return True
        return False

    def release(self, name: str) -> None:
        """Free the slot of execution `name`; nothing happens when it holds none."""
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"pool_id": POOL}),
                UpdateExpression="REMOVE #running.#name",
                ConditionExpression="attribute_exists(#running)",
                ExpressionAttributeNames={"#running": RUNNING, "#name": name},
            )
        except ClientError as error:  # refused: no pool yet, so no slot to free
            if not dynamo.is_condition_failure(error):
                raise

    def running(self) -> dict[str, str]:
        """Execution name -> when its slot was claimed (ISO, UTC), consistently read."""
        item = dynamo.get(self.table, {"pool_id": POOL}) or {}
        return {str(name): str(at) for name, at in (item.get(RUNNING) or {}).items()}

    def oldest(self, count: int) -> list[tuple[str, str]]:
        """The `count` slots claimed longest ago: (execution name, claimed at), oldest first."""
        return sorted(self.running().items(), key=lambda entry: (entry[1], entry[0]))[:count]

    def _make_pool(self) -> None:
        try:
            clients.dynamodb().update_item(
                TableName=self.table,
                Key=dynamo.to_item({"pool_id": POOL}),
                UpdateExpression="SET #running = :empty",
                ConditionExpression="attribute_not_exists(pool_id)",
                ExpressionAttributeNames={"#running": RUNNING},
                ExpressionAttributeValues=dynamo.to_values({":empty": {}}),
            )
        except ClientError as error:  # refused: another claim made it first
            if not dynamo.is_condition_failure(error):
                raise
