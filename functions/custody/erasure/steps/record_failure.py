"""RecordFailure: a run that failed is recorded on its request (the error's name only) before it alarms."""

from __future__ import annotations

from custody.declared import workflow
from custody.erasure.contract import RecordFailureInput, RecordFailureOutput
from custody.erasure.steps.context import StepContext
from custody.stores.requests import RequestStatus


def run(context: StepContext, event: RecordFailureInput) -> RecordFailureOutput:
    """Mark the request `failed`, keeping the first 100 characters of the error's name (`Unknown` when none).

    Raises `RequestNotFound` when the event names no request of that subject.
    """
    request, _ = context.read(event)
    error = (event.error or "Unknown")[:100]
    context.requests.mark(request.request_id, workflow.FAILED, status=RequestStatus.FAILED, failure=error)
    return RecordFailureOutput(status="failed")
