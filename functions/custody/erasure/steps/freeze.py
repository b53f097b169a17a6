"""Freeze: nothing new may arrive while the data goes.

A full erasure marks the subject `erasing` and disables their sign-in. Every erasure moves the
request to `in_progress` (a completed one stays completed) and returns its plan — the stores in
scope, the scope and the reason — read from the request record, never from the workflow's input.

An erasure the customer asked for keeps their address sealed for the completion notice, which goes
out after their identity is deleted (`custody.notices.addresses`); a retention erasure keeps none.
A full erasure also answers the customer's other open requests (an export, a change request): what
they asked about is being erased (outcome `erased`, told in the erasure's own completion notice).
"""

from __future__ import annotations

from custody.deadlines.register import RequestsRegister
from custody.declared import workflow
from custody.erasure.contract import FreezeInput, FreezeOutput
from custody.erasure.plan import stores_in_scope
from custody.erasure.steps.context import StepContext
from custody.notices.addresses import NoticeAddresses
from custody.stores.requests import ErasureReason, RequestStatus
from custody.stores.subjects import SubjectStatus


def run(context: StepContext, event: FreezeInput) -> FreezeOutput:
    """Freeze the request and return its plan: stores in scope, scope and reason, read from the request record.

    An erasure a customer asked for (not `retention`) seals their address for the completion notice
    first (`NoticeAddresses.seal`, idempotent). A full erasure marks the subject `erasing`, disables
    their Cognito user (signing them out) and answers their other open requests (outcome `erased`).
    The request moves to `in_progress` unless it is already completed. Raises `RequestNotFound` when the
    event names no request of that subject.
    """
    request, item = context.read(event)
    done = item.get("status") == RequestStatus.COMPLETED.value
    if request.reason is not ErasureReason.RETENTION and not done:
        address = context.identity.address(request.subject_id)
        if address:
            NoticeAddresses(context.settings).seal(request.request_id, address)
    if request.full:
        others = context.subjects.load(request.subject_id).open_requests - {request.request_id}
        context.subjects.mark_erasure(request.subject_id, SubjectStatus.ERASING, request.request_id)
        context.identity.disable(request.subject_id)
        register = RequestsRegister(context.settings)
        for other in sorted(others):
            register.answered(other, "erased", notify=False)  # an erasure among them is left alone
    context.requests.mark(request.request_id, workflow.FREEZE, status=None if done else RequestStatus.IN_PROGRESS)
    return FreezeOutput(
        stores=tuple(store.name for store in stores_in_scope(request.scope)),
        scope=tuple(sorted(request.scope)),
        reason=request.reason,
    )
