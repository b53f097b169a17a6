"""Freeze: nothing new may arrive while the data goes.

A full erasure marks the subject `erasing` and disables their sign-in; the erasure of a retained
subject's kept records marks it `erasing` too. Every erasure moves the request to `in_progress` (a
completed one stays completed) and returns its plan — the stores in scope, the scope and the reason —
read from the request record, never from the workflow's input.

A full erasure keeps what a legal obligation requires (GDPR art. 17(3)(b)): the first Freeze of the
request counts, for each category under an obligation, the customer's records whose obligation has not
ended (`kept_until` today or later) and takes the categories that hold some out of the scope, recording
on the request what is kept, under which obligation and legal basis, and until when (`retained`). A
category whose records have all reached their end is erased now with the rest. Later runs read the
recorded plan, so a re-run never changes what the first run decided.

An erasure the customer asked for keeps their address sealed for the completion notice, which goes
out after their identity is deleted (`custody.notices.addresses`); the sweep's erasures keep none.
A full erasure also answers the customer's other open requests (an export, a change request): what
they asked about is being erased (outcome `erased`, told in the erasure's own completion notice).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from custody.deadlines.register import RequestsRegister
from custody.declared import clock, datamap, retention, workflow
from custody.erasure.contract import FreezeInput, FreezeOutput
from custody.erasure.errors import RequestHeld
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.notices.addresses import NoticeAddresses
from custody.stores.partitions import TablePartition
from custody.stores.requests import ASKED_BY_SUBJECT, ErasureRequest, RequestStatus
from custody.stores.subjects import SubjectStatus

RETAINED = "retained"  # the request's attribute: what a full erasure keeps (`stores.requests`)


def run(context: StepContext, event: FreezeInput) -> FreezeOutput:
    """Freeze the request and return its plan: stores in scope, scope and reason, read from the request record.

    An erasure a customer asked for (`ASKED_BY_SUBJECT`) seals their address for the completion notice
    first (`NoticeAddresses.seal`, idempotent). A full erasure then marks the subject `erasing`, disables
    their Cognito user (signing them out), answers their other open requests (outcome `erased`) and on
    its first run decides what a legal obligation keeps (`retained`, and the narrowed scope). The request
    moves to `in_progress` unless it is already completed. Raises `RequestNotFound` when the event names
    no request of that subject, and `RequestHeld` for a request a legal hold holds (nothing is done).
    """
    request, item = context.read(event)
    if request.status is RequestStatus.HELD:
        raise RequestHeld("A legal hold holds this request; it starts when the hold is lifted or ends.")
    done = item.get("status") == RequestStatus.COMPLETED.value
    if request.reason in ASKED_BY_SUBJECT and not done:
        address = context.identity.address(request.subject_id)
        if address:
            NoticeAddresses(context.settings).seal(request.request_id, address)
    scope = request.scope
    recorded: dict[str, Any] = {}
    if request.full:
        others = context.subjects.load(request.subject_id).open_requests - {request.request_id}
        context.subjects.mark_erasure(request.subject_id, SubjectStatus.ERASING, request.request_id)
        context.identity.disable(request.subject_id)
        if RETAINED not in item:
            kept = retained_records(context, request)
            kept_names = {entry["category"] for entry in kept}
            scope = tuple(name for name in request.scope if name not in kept_names)
            recorded = {RETAINED: kept, "scope": list(scope)}
        register = RequestsRegister(context.settings)
        for other in sorted(others):
            register.answered(other, "erased", notify=False)  # an erasure among them is left alone
    elif request.ends_retention:
        context.subjects.mark_erasure(
            request.subject_id, SubjectStatus.ERASING, request.request_id, ending_retention=True
        )
    context.requests.mark(
        request.request_id, workflow.FREEZE, status=None if done else RequestStatus.IN_PROGRESS, **recorded
    )
    return FreezeOutput(
        stores=tuple(store.name for store in stores_in_scope(scope)),
        scope=tuple(sorted(scope)),
        reason=request.reason,
    )


def retained_records(context: StepContext, request: ErasureRequest) -> list[dict[str, Any]]:
    """What a full erasure keeps: each category under an obligation, in scope, with records not past their end.

    Each `{category, obligation, legal_basis, key_version, items, until}`: `items` the customer's records
    of the category, `until` the latest last day among them (YYYY-MM-DD). One Query per such store,
    projecting the keys and `kept_until` only.
    """
    today = clock.now().date().isoformat()
    kept = []
    for category in datamap.retained_categories():
        store = datamap.store(category.store)
        if category.name not in request.scope or not isinstance(store, datamap.TableStore):
            continue
        count, latest = TablePartition(context.settings, store).kept_until(request.subject_id)
        if not count or latest is None or latest < today:
            continue  # nothing kept, or every record past its obligation: erased now
        obligation = datamap.obligation(str(category.obligation))
        kept.append(
            {
                "category": category.name,
                "obligation": obligation.name,
                "legal_basis": obligation.legal_basis,
                "key_version": obligation.key_version,
                "items": count,
                "until": latest,
            }
        )
    return kept


def retention_ends_at(kept: list[dict[str, Any]]) -> str:
    """When the last of the kept records' obligations ends (the one format): the end of their latest `until`."""
    latest = max(str(entry["until"]) for entry in kept)
    return clock.iso(retention.end_of_day(date.fromisoformat(latest)))
