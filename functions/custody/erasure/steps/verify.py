"""Verify: ask every store in scope again; anything left fails the round (`ResidualDataFound`).

For a full erasure the key must be a tombstone, the identity gone, the idempotency records gone
and the subject's record a tombstone too. What a legal obligation keeps must still be there: the key of
each obligation whose records the erasure kept must still hold key material (`RetainedKeyLost`
otherwise: the kept records could no longer be read), and every other retained key must be a tombstone.
The erasure that ends a retention checks the same of everything: every retained key a tombstone, the
records and their access log gone, the record a tombstone. An upload that began before the erasure and may still
land (its deadline is ahead) holds Verify back (`UploadsInFlight`, retried by the state until the
deadline passed); after it, the listing sees the object if it landed, and another round erases
it. The state machine runs the erasure round again at most three rounds before the run fails and
alarms.
"""

from __future__ import annotations

from custody.declared import clock, datamap, workflow
from custody.erasure.contract import VerifyInput, VerifyOutput
from custody.erasure.errors import ResidualDataFound, RetainedKeyLost, UploadsInFlight
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.erasure.steps.erase_stores import keys_in_scope
from custody.erasure.steps.shred_key import kept_key_versions
from custody.stores.idempotency_records import IdempotencyRecords
from custody.stores.partitions import BucketPrefix, TablePartition
from custody.stores.subjects import TOMBSTONE_ATTRIBUTES, UPLOADS_IN_FLIGHT, Subject


def run(context: StepContext, event: VerifyInput) -> VerifyOutput:
    """Check that nothing in scope remains; for a full erasure, that the key, the Cognito user and the record went too.

    Raises `UploadsInFlight` while an upload begun before the erasure may still land in a bucket in
    scope, `ResidualDataFound` naming the stores (and `subject_keys`, `identity`, `subjects`) where
    something was found, and `RetainedKeyLost` when a key the erasure had to keep is gone; otherwise marks
    the milestone.
    """
    stores = stores_in_scope(event.scope)
    record = context.subjects.record(event.subject_id)
    if any(isinstance(store, datamap.BucketStore) for store in stores):
        _wait_for_uploads(context.subjects.loaded(event.subject_id, record))
    residual: dict[str, int] = {}
    for store in stores:
        if isinstance(store, datamap.TableStore):
            keys, more = keys_in_scope(context, event, store, 1)
            left = len(keys) + int(more)
        else:
            prefix = BucketPrefix(context.settings, store)
            versions, _ = prefix.versions(event.subject_id, limit=1)
            left = len(versions)
            if store.multipart_uploads:
                left += len(prefix.unfinished_uploads(event.subject_id, limit=1))
        if left:
            residual[store.name] = left
    if event.full or event.ends_retention:
        if not context.keyring.shredded(event.subject_id):  # key material, or no tombstone to refuse a new key
            residual["subject_keys"] = 1
        kept = kept_key_versions(event)
        for obligation in datamap.OBLIGATIONS.values():
            if obligation.key_version not in kept and not context.keyring.shredded(
                event.subject_id, obligation.key_version
            ):
                residual["subject_keys"] = residual.get("subject_keys", 0) + 1
        if context.identity.exists(event.subject_id):
            residual["identity"] = 1
        if IdempotencyRecords(context.settings).count(event.subject_id, 1):
            residual["idempotency"] = 1
        beyond = set(record) - {*TOMBSTONE_ATTRIBUTES, UPLOADS_IN_FLIGHT}
        if beyond:
            residual["subjects"] = len(beyond)
    if residual:
        raise ResidualDataFound(f"Data remains in {sorted(residual)}.")
    if event.full:
        _check_kept_keys(context, event)
    context.requests.mark(event.request_id, workflow.VERIFY)
    return VerifyOutput()


def _check_kept_keys(context: StepContext, event: VerifyInput) -> None:
    """Raise `RetainedKeyLost` when records the erasure keeps are stored but their obligation's key is not."""
    kept = kept_key_versions(event)
    for obligation in datamap.OBLIGATIONS.values():
        version = obligation.key_version
        if version not in kept or context.keyring.exists(event.subject_id, version):
            continue
        for category in datamap.categories_under(obligation.name):
            store = datamap.store(category.store)
            stored = isinstance(store, datamap.TableStore) and next(
                iter(TablePartition(context.settings, store).keys(event.subject_id)), None
            )
            if stored:
                raise RetainedKeyLost(f"Records kept under {obligation.name} are stored, but their key is gone.")


def _wait_for_uploads(subject: Subject) -> None:
    now = clock.now_iso()
    ahead = [entry for entry in subject.uploads_in_flight if entry.split("#", 1)[0] > now]
    if ahead:
        last = max(ahead).split("#", 1)[0]
        raise UploadsInFlight(f"{len(ahead)} upload(s) may still land; the last deadline is {last}.")
