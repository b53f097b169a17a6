"""DeleteIdentity: a full erasure deletes the customer's user from the customer pool."""

from __future__ import annotations

from custody.declared import workflow
from custody.erasure.contract import DeleteIdentityInput, DeleteIdentityOutput
from custody.erasure.steps.context import StepContext


def run(context: StepContext, event: DeleteIdentityInput) -> DeleteIdentityOutput:
    deleted = context.identity.delete(event.subject_id) if event.full else False
    context.requests.mark(event.request_id, workflow.DELETE_IDENTITY)
    return DeleteIdentityOutput(deleted=deleted)
