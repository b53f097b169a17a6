"""The sub-processors' part of an erasure: whom to ask, asking each, and how each answered.

* ListProcessors: records the Map's totals on the request (`erased.<execution>#<round>`, once a
  run) and marks the stores erased, then lists the sub-processors to ask — from the request (a
  `sharing:` withdrawal names its processor), from the subject record for a full erasure (the
  disclosures store is already erased) and the request's own list (a re-run after the record
  became a tombstone), or from the disclosures that hold a category in scope. The list rides in
  the state past the certificate: the processors are asked after it (the customer's own erasure
  never waits on anyone else's), and their answers complete the request's record later.
  One already confirmed by an earlier run is not asked again. The seals of an earlier round's
  tokens go: those waits are over.
* AskProcessor (`lambda:invoke.waitForTaskToken`): seals the task token to this processor and
  request on the record, then sends the deletion request — a message never exists without its
  seal. The state then waits for the acknowledgement route's `SendTaskSuccess`.
* RecordProcessorOutcome: the processor's answer — `confirmed`, or `unconfirmed` when the
  deadline passed or another processor's acknowledgement came back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from custody.declared import clock, datamap, workflow
from custody.erasure.contract import (
    AskProcessorInput,
    AskProcessorOutput,
    ListProcessorsInput,
    ListProcessorsOutput,
    ProcessorToAsk,
    RecordProcessorOutcomeInput,
    RecordProcessorOutcomeOutput,
)
from custody.erasure.steps.context import StepContext
from custody.stores.partitions import TablePartition
from custody.stores.requests import PROCESSOR_OUTCOMES, TOKEN_SEALS, ErasureRequest, ProcessorOutcome
from custody.subprocessors.notifications import send_erasure_request
from custody.subprocessors.registry import ProcessorRegistry
from custody.subprocessors.task_tokens import TaskTokenSeals

DEFAULT_ACK_TIMEOUT_SECONDS: Final = 30 * 86_400  # a processor without an agreement on file


def list_processors(context: StepContext, event: ListProcessorsInput) -> ListProcessorsOutput:
    """List the sub-processors to ask for deletion (EraseStores recorded the round's store totals).

    Each listed processor is marked `notified` on the request, with the timeout of its agreement (30
    days without one) and the deadline it ends at; one that already `confirmed` is skipped. The earlier
    round's token seals are dropped. Raises `RequestNotFound` when the event names no request of that
    subject.
    """
    request, item = context.read(event)
    outcomes: dict[str, str] = dict(item.get(PROCESSOR_OUTCOMES) or {})
    registry = ProcessorRegistry(context.settings)
    asked = []
    for processor_id in _processors_of(context, request, outcomes):
        if outcomes.get(processor_id) == ProcessorOutcome.CONFIRMED:
            continue
        agreement = registry.get(processor_id)
        timeout = agreement.acknowledgement_timeout() if agreement else DEFAULT_ACK_TIMEOUT_SECONDS
        outcomes[processor_id] = ProcessorOutcome.NOTIFIED.value
        deadline = clock.iso(clock.now() + timedelta(seconds=timeout))
        asked.append(ProcessorToAsk(processor_id=processor_id, timeout_seconds=timeout, deadline=deadline))
    # The seals of an earlier round's tokens go: their waits are over.
    values: dict[str, Any] = {PROCESSOR_OUTCOMES: outcomes, TOKEN_SEALS: {}}
    context.requests.mark(request.request_id, workflow.ERASE_STORES, workflow.NOTIFY_PROCESSORS, **values)
    return ListProcessorsOutput(processors=tuple(asked), notified=len(asked))


def ask_processor(context: StepContext, event: AskProcessorInput) -> AskProcessorOutput:
    """Seal the task token to this processor and request, keep the seal on the request, then send the deletion request.

    The seal is kept first, so no message exists without it. Raises botocore's `ClientError`
    (`ConditionalCheckFailedException`) when the processor is not `notified` on the request; KMS and SQS
    errors pass through.
    """
    seal = TaskTokenSeals(context.settings).seal(event.request_id, event.processor_id, event.task_token)
    context.requests.seal_token(event.request_id, event.processor_id, seal)
    send_erasure_request(
        context.settings, event.request_id, event.subject_id, event.processor_id, event.deadline, event.task_token
    )
    return AskProcessorOutput(asked=1)


def record_processor_outcome(context: StepContext, event: RecordProcessorOutcomeInput) -> RecordProcessorOutcomeOutput:
    """Record the processor's outcome (`confirmed` or `unconfirmed`) on the request.

    Raises botocore's `ClientError` (`ConditionalCheckFailedException`) when the processor was never
    listed for this request.
    """
    outcome = ProcessorOutcome(event.outcome)
    context.requests.record_outcome(event.request_id, event.processor_id, outcome)
    return RecordProcessorOutcomeOutput(
        confirmed=int(outcome is ProcessorOutcome.CONFIRMED), unconfirmed=int(outcome is ProcessorOutcome.UNCONFIRMED)
    )


def _processors_of(context: StepContext, request: ErasureRequest, outcomes: dict[str, str]) -> list[str]:
    if request.processors:
        return sorted(set(request.processors))
    if request.full:
        # A re-run after ShredKey finds the subject's record a tombstone: the processors an earlier
        # run listed are on the request.
        return sorted(context.subjects.load(request.subject_id).disclosed_to | set(outcomes))
    disclosures = datamap.store("disclosures")
    assert isinstance(disclosures, datamap.TableStore)
    scope = set(request.scope)
    return sorted(
        {
            str(entry["processor_id"])
            for entry in TablePartition(context.settings, disclosures).items(request.subject_id)
            if set(entry.get("categories", ())) & scope
        }
    )
