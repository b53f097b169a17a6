"""EraseStore: one batch of one store (the Map's iteration), looping while there is more.

A table: Query the subject's partition for keys (never a Scan) and `BatchWriteItem` deletes, up
to `Settings.erasure_batch_items` items a run. A bucket: the subject's unfinished multipart
uploads aborted (where the data map says objects arrive that way: `multipart_uploads`), then every
object version and delete marker, `DeleteObjects` by 1,000. Nothing is written to the request
here: ListProcessors records the Map's totals once, so a store costs its reads and deletes only.
"""

from __future__ import annotations

from custody.declared import datamap
from custody.erasure.contract import EraseStoreInput, EraseStoreOutput, PlannedInput
from custody.erasure.errors import TransientError
from custody.erasure.plan import item_in_scope
from custody.erasure.steps.context import StepContext
from custody.stores.partitions import BucketPrefix, PartialWrite, TablePartition
from custody.stores.profiles import TABLE as PROFILES


def run(context: StepContext, event: EraseStoreInput) -> EraseStoreOutput:
    """Erase one batch of `event.store` for the subject, sized by `Settings.erasure_batch_items`.

    A table batch deletes at most that many items in scope; a bucket batch keeps deleting 1,000
    object versions at a time until it reached that many. Returns what this batch deleted, the
    running total and whether more remains. A purpose erasure that removed profile categories moves the
    profile's version (its ETag). Raises `TransientError` when a batch stayed partly undone
    after its retries (`PartialWrite`), which the state retries; other AWS errors pass through.
    """
    store = datamap.store(event.store)
    budget = context.settings.erasure_batch_items
    try:
        if isinstance(store, datamap.TableStore):
            deleted, more = _erase_table(context, event, store, budget)
        else:
            deleted, more = _erase_bucket(context, event, store, budget)
    except PartialWrite as partial:
        raise TransientError(str(partial)) from None
    if deleted and store.name == PROFILES and not event.full:
        context.subjects.profile_erased(event.subject_id)
    return EraseStoreOutput(store=store.name, deleted=deleted, erased=event.erased_before + deleted, more=more)


def keys_in_scope(
    context: StepContext, event: PlannedInput, store: datamap.TableStore, limit: int
) -> tuple[list[dict[str, object]], bool]:
    """Up to `limit` keys of the subject's items in scope, and whether more remain."""
    found: list[dict[str, object]] = []
    for key in TablePartition(context.settings, store).keys(event.subject_id):
        if item_in_scope(store, key, event.scope):
            if len(found) == limit:
                return found, True
            found.append(key)
    return found, False


def _erase_table(
    context: StepContext, event: EraseStoreInput, store: datamap.TableStore, budget: int
) -> tuple[int, bool]:
    keys, more = keys_in_scope(context, event, store, budget)
    return TablePartition(context.settings, store).delete(keys), more


def _erase_bucket(
    context: StepContext, event: EraseStoreInput, store: datamap.BucketStore, budget: int
) -> tuple[int, bool]:
    prefix = BucketPrefix(context.settings, store)
    deleted = prefix.abort(prefix.unfinished_uploads(event.subject_id)) if store.multipart_uploads else 0
    while deleted < budget:
        versions, truncated = prefix.versions(event.subject_id)
        if not versions:
            return deleted, False
        deleted += prefix.delete(versions)
        if not truncated:
            return deleted, False  # that listing held the last of them: no need to list an empty prefix
    return deleted, True
