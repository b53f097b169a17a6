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

from dataclasses import dataclass

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.erasure.plan import item_in_scope
from custody.stores.erasure_ledger import ErasureLedgerTable
from custody.stores.partitions import TablePartition


@dataclass(frozen=True)
class GuardReport:
    """What one `guard` run did.

    The restored table, its data-map store, how many erased subjects the erasure ledger names
    (`subjects_checked`) and how many items were deleted (`items_removed`).
    """

    table: str
    store: str
    subjects_checked: int
    items_removed: int


def guard(settings: Settings, restored_table: str, store_name: str) -> GuardReport:
    """Delete from `restored_table` (a copy of the data-map store `store_name`) what erasures removed.

    Raises `ValueError` when `store_name` is a bucket store and `KeyError` when the data map has no
    store of that name.
    """
    store = datamap.store(store_name)
    if not isinstance(store, datamap.TableStore):
        raise ValueError(f"{store_name} is not a table store of the data map.")
    held = {category.name for category in datamap.categories_in(store.name)}
    scopes: dict[str, set[str]] = {}
    for entry in ErasureLedgerTable(settings).entries():
        scopes.setdefault(entry["subject_id"], set()).update(entry.get("scope", ()))
    restored = TablePartition(settings, store, table=restored_table)
    removed = 0
    for subject_id, scope in scopes.items():
        if scope & held:
            # The erasure's own rule decides, so a restore never loses more than the erasure removed.
            removed += restored.delete([key for key in restored.keys(subject_id) if item_in_scope(store, key, scope)])
    return GuardReport(restored_table, store.name, len(scopes), removed)
