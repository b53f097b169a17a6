"""EraseStores: every store in scope, one after the other, in one invocation within a time budget.

A table: Query the subject's partition for keys (never a Scan) and `BatchWriteItem` deletes, up to
`Settings.erasure_batch_items` keys at a time. A bucket: the subject's unfinished multipart uploads
aborted (where the data map says objects arrive that way: `multipart_uploads`), then every object
version and delete marker, `DeleteObjects` by 1,000.

Why one state for all stores, not a Map with one iteration (and a Choice loop) per store: Step
Functions bills each state entered, and most stores of most customers hold a handful of items or
none, so a Map cost three transitions and one invocation per store for a few calls of work (32
transitions, 80 % of an erasure's price). The loop now runs here, bounded by the invocation's time:
when less than `TIME_MARGIN_SECONDS` remain, the step saves each store's running total on the
request (`erasing`) and raises `StoresNotFinished`, which the state retries; the retry (its
`$$.State.RetryCount` > 0) resumes from the saved totals, skipping the stores already done. A
step that fails for another reason saves its totals the same way before it raises. So a store of
any size erases in bounded history: one retry per `timeout - margin` seconds of work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from custody.declared import datamap
from custody.erasure.contract import EraseStoresInput, EraseStoresOutput, PlannedInput, StoreTotal
from custody.erasure.errors import StoresNotFinished, TransientError
from custody.erasure.plan import item_in_scope
from custody.erasure.steps.context import StepContext
from custody.stores.partitions import BucketPrefix, PartialWrite, TablePartition
from custody.stores.profiles import TABLE as PROFILES

TIME_MARGIN_SECONDS: Final = 60  # one more batch, the saved totals and the audit events fit in it
PROGRESS: Final = "erasing"  # the request's attribute holding a paused run's totals (set by `_save`)

log = logging.getLogger(__name__)


class _Progress:
    """The run's per-store totals and which stores are done, as saved on the request."""

    def __init__(self, run: str, saved: dict[str, Any] | None) -> None:
        self.run = run
        stores = (saved or {}).get("stores", {}) if (saved or {}).get("run") == run else {}
        self.erased: dict[str, int] = {name: int(entry["erased"]) for name, entry in stores.items()}
        self.done: set[str] = {name for name, entry in stores.items() if entry.get("done")}

    def value(self) -> dict[str, Any]:
        stores = {name: {"erased": total, "done": name in self.done} for name, total in self.erased.items()}
        return {"run": self.run, "stores": stores}


def run(context: StepContext, event: EraseStoresInput) -> EraseStoresOutput:
    """Erase every store of `event.stores` for the subject; returns each store's total for this round.

    Resumes a run that paused or failed (`event.attempt` > 0) from the totals it saved. A purpose
    erasure that removed profile categories moves the profile's version (its ETag). Raises
    `StoresNotFinished` when the time budget ran out with stores left (totals saved), `TransientError`
    when a batch stayed partly undone after its retries (`PartialWrite`); other AWS errors pass through
    (totals saved first, best effort).
    """
    run_key = f"{event.execution}#{event.round}"
    saved = context.requests.load(event.request_id) if event.attempt else None
    progress = _Progress(run_key, (saved or {}).get(PROGRESS))
    out_of_time = _clock(context.remaining_ms)
    try:
        for name in event.stores:
            if name in progress.done:
                continue
            store = datamap.store(name)
            progress.erased.setdefault(name, 0)
            while True:
                if out_of_time():
                    raise StoresNotFinished(f"{len(set(event.stores) - progress.done)} store(s) left for the retry.")
                if isinstance(store, datamap.TableStore):
                    deleted, more = _erase_table(context, event, store)
                else:
                    deleted, more = _erase_bucket(context, event, store)
                progress.erased[name] += deleted
                if not more:
                    break
            if progress.erased[name] and store.name == PROFILES and not event.full:
                context.subjects.profile_erased(event.subject_id)
            progress.done.add(name)
    except Exception as error:
        _save(context, event, progress)
        if isinstance(error, PartialWrite):
            raise TransientError(str(error)) from None
        raise
    totals = tuple(StoreTotal(store=name, erased=progress.erased.get(name, 0)) for name in event.stores)
    # The round's totals, recorded where they are made: a run stopped after this step (a StopExecution,
    # a limit, a crash before the next one) leaves them on the request, and its re-run's certificate
    # sums them. Setting the entry again (a retry) changes nothing.
    recorded: dict[str, Any] = {f"erased.{run_key}": {total.store: total.erased for total in totals}}
    context.requests.mark(event.request_id, **recorded)
    return EraseStoresOutput(stores=totals, erased=sum(total.erased for total in totals))


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


def _clock(remaining_ms: Callable[[], int] | None) -> Callable[[], bool]:
    """Whether the invocation is within `TIME_MARGIN_SECONDS` of its end (never, without a Lambda context)."""
    if remaining_ms is None:
        return lambda: False
    return lambda: remaining_ms() < TIME_MARGIN_SECONDS * 1000


def _save(context: StepContext, event: EraseStoresInput, progress: _Progress) -> None:
    """Keep the run's totals on the request for the retry; a failure here loses counts, never data."""
    if not progress.erased:
        return
    try:
        context.requests.mark(event.request_id, erasing=progress.value())
    except Exception as error:  # the step's own error is the one the state must see
        log.warning("The erasure's running totals could not be saved", extra={"error": type(error).__name__})


def _erase_table(context: StepContext, event: EraseStoresInput, store: datamap.TableStore) -> tuple[int, bool]:
    keys, more = keys_in_scope(context, event, store, context.settings.erasure_batch_items)
    return TablePartition(context.settings, store).delete(keys), more


def _erase_bucket(context: StepContext, event: EraseStoresInput, store: datamap.BucketStore) -> tuple[int, bool]:
    """One listing's worth (up to 1,000 versions), after the unfinished uploads; whether more remain."""
    prefix = BucketPrefix(context.settings, store)
    deleted = prefix.abort(prefix.unfinished_uploads(event.subject_id)) if store.multipart_uploads else 0
    versions, truncated = prefix.versions(event.subject_id)
    if versions:
        deleted += prefix.delete(versions)
    return deleted, truncated  # a listing that was not truncated held the last of them: no empty listing after
