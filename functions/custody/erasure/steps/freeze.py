"""Freeze: nothing new may arrive while the data goes.

A full erasure marks the subject `erasing` and disables their sign-in. Every erasure moves the
request to `in_progress` (a completed one stays completed) and returns its plan — the stores in
scope, the scope and the reason — read from the request record, never from the workflow's input.
"""

from __future__ import annotations

from custody.declared import workflow
from custody.erasure.contract import FreezeInput, FreezeOutput
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.stores.requests import RequestStatus
from custody.stores.subjects import SubjectStatus


def run(context: StepContext, event: FreezeInput) -> FreezeOutput:
    """Freeze the request and return its plan: stores in scope, scope and reason, read from the request record.

    A full erasure first marks the subject `erasing` and disables their Cognito user (signing them out).
    The request moves to `in_progress` unless it is already completed. Raises `RequestNotFound` when the
    event names no request of that subject.
    """
    request, item = context.read(event)
    if request.full:
        context.subjects.mark_erasure(request.subject_id, SubjectStatus.ERASING, request.request_id)
        context.identity.disable(request.subject_id)
    done = item.get("status") == RequestStatus.COMPLETED.value
    context.requests.mark(request.request_id, workflow.FREEZE, status=None if done else RequestStatus.IN_PROGRESS)
    return FreezeOutput(
        stores=tuple(store.name for store in stores_in_scope(request.scope)),
        scope=tuple(sorted(request.scope)),
        reason=request.reason,
    )
