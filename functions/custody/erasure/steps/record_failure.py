"""RecordFailure: a run that failed is recorded on its request (the error's name only) before it alarms.

A failure after the certificate (the sub-processors' part runs after it) leaves the request
`completed` — the customer's erasure is done and certified — and records the failure beside it. A
`held` request (started by hand while a legal hold holds it: Freeze refused it) stays `held`, so the
hold's release still finds and starts it; the failure is recorded beside it.
"""

from __future__ import annotations

from custody.declared import workflow
from custody.erasure.contract import RecordFailureInput, RecordFailureOutput
from custody.erasure.steps.context import StepContext
from custody.stores.requests import RequestStatus


def run(context: StepContext, event: RecordFailureInput) -> RecordFailureOutput:
    """Mark the request `failed`; once certified, keep it `completed` and record `follow_up_failure`; a held one stays.

    Keeps the first 100 characters of the error's name (`Unknown` when none). Raises `RequestNotFound`
    when the event names no request of that subject.
    """
    _, item = context.read(event)
    error = (event.error or "Unknown")[:100]
    if item.get("status") == RequestStatus.COMPLETED.value:
        context.requests.mark(event.request_id, follow_up_failure=error)
    elif item.get("status") == RequestStatus.HELD.value:
        context.requests.mark(event.request_id, failure=error)
    else:
        context.requests.mark(event.request_id, workflow.FAILED, status=RequestStatus.FAILED, failure=error)
    return RecordFailureOutput(status="failed")
