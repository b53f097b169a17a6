"""DeleteIdentity: a full erasure deletes the customer's user from the customer pool."""

from __future__ import annotations

from custody.declared import workflow
from custody.erasure.contract import DeleteIdentityInput, DeleteIdentityOutput
from custody.erasure.steps.context import StepContext


def run(context: StepContext, event: DeleteIdentityInput) -> DeleteIdentityOutput:
    """Delete the customer's Cognito user for a full erasure (nothing for a purpose withdrawal), and mark the milestone.

    Returns whether this call deleted the user: false when it was already gone. Cognito errors but
    `UserNotFoundException` pass through as botocore's `ClientError`.
    """
    deleted = context.identity.delete(event.subject_id) if event.full else False
    context.requests.mark(event.request_id, workflow.DELETE_IDENTITY)
    return DeleteIdentityOutput(deleted=deleted)
