"""The restore guard: an erased customer never comes back from a backup.

Crypto-shredding already makes a restored copy of an erased customer's data unreadable — the
key is gone. The guard also removes the rows themselves: it replays the erasure ledger (which
survives erasure and holds only ids, scopes and times) over a table restored from a backup,
deleting every item of every erased subject that the erasure covered. Run it after every
restore, before the restored table serves traffic (docs/runbooks/restore.md).

Cost: one Scan of the ledger (erased subjects, not customers) and, per erased subject, one
Query of the restored table's partition plus the batch deletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.erasure.steps import BATCH_WRITE_MAX, LEDGER_TABLE, batch_write
from custody.platform.aws import clients
from custody.stores import dynamo


@dataclass(frozen=True)
class GuardReport:
    table: str
    store: str
    subjects_checked: int
    items_removed: int


def ledger_entries(settings: Settings) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"TableName": settings.table(LEDGER_TABLE)}
    while True:
        page = clients.dynamodb().scan(**kwargs)
        for item in page.get("Items", []):
            yield dynamo.from_item(item)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def guard(settings: Settings, restored_table: str, store_name: str) -> GuardReport:
    """Delete from `restored_table` (a copy of the data-map store `store_name`) what erasures removed."""
    store = datamap.store(store_name)
    if not isinstance(store, datamap.TableStore):
        raise ValueError(f"{store_name} is not a table store of the data map.")
    held = {category.name for category in datamap.categories_in(store.name)}
    scopes: dict[str, set[str]] = {}
    for entry in ledger_entries(settings):
        scopes.setdefault(entry["subject_id"], set()).update(entry.get("scope", ()))
    removed = 0
    for subject_id, scope in scopes.items():
        if not scope & held:
            continue
        keys = []
        for item in dynamo.query_partition(restored_table, store.partition_key, subject_id):
            category = item.get(store.category_attribute) if store.category_attribute else None
            if category is None or category in scope:
                keys.append({store.partition_key: item[store.partition_key], store.sort_key: item[store.sort_key]})
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            batch = keys[start : start + BATCH_WRITE_MAX]
            batch_write(restored_table, [{"DeleteRequest": {"Key": dynamo.to_item(key)}} for key in batch])
        removed += len(keys)
    return GuardReport(restored_table, store.name, len(scopes), removed)
