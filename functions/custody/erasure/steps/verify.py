"""Verify: ask every store in scope again; anything left fails the round (`ResidualDataFound`).

For a full erasure the key and the identity must be gone too. The state machine then runs the
erasure round again, at most three rounds, before the run fails and alarms.
"""

from __future__ import annotations

from custody.declared import datamap, workflow
from custody.erasure.contract import VerifyInput, VerifyOutput
from custody.erasure.errors import ResidualDataFound
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.erasure.steps.erase_store import keys_in_scope
from custody.stores.partitions import BucketPrefix


def run(context: StepContext, event: VerifyInput) -> VerifyOutput:
    """Check that nothing in scope remains; for a full erasure, that the key and the Cognito user are gone too.

    Raises `ResidualDataFound` naming the stores (and `subject_keys`, `identity`) where something was
    found; otherwise marks the milestone.
    """
    residual: dict[str, int] = {}
    for store in stores_in_scope(event.scope):
        if isinstance(store, datamap.TableStore):
            keys, more = keys_in_scope(context, event, store, 1)
            left = len(keys) + int(more)
        else:
            versions, _ = BucketPrefix(context.settings, store).versions(event.subject_id, limit=1)
            left = len(versions)
        if left:
            residual[store.name] = left
    if event.full:
        if context.keyring.exists(event.subject_id):
            residual["subject_keys"] = 1
        if context.identity.username(event.subject_id) is not None:
            residual["identity"] = 1
    if residual:
        raise ResidualDataFound(f"Data remains in {sorted(residual)}.")
    context.requests.mark(event.request_id, workflow.VERIFY)
    return VerifyOutput()
