"""The erasure workflow's dispatcher: one step run per invocation, typed in and out, audited.

`run(event, settings)` validates the event against the step's input contract (the `step` field
chooses it), runs the step and returns its output as JSON. Every run writes one audit event on the
request's chain, here and nowhere else: outcome `ok` after a step returned (`failed` for
RecordFailure), `error:<ErrorClass>` when it raised; counts are the output's integers and booleans,
and for EraseStores each store's total by the store's name; the target is the sub-processor a step
addressed, else `workflow`. Raises `pydantic.ValidationError` for an event outside the contract (the
state machine sees `ValidationError`: not retried), and whatever the step raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter

from custody.audit.ledger import AuditLedger
from custody.declared import workflow
from custody.declared.settings import Settings
from custody.erasure import contract
from custody.erasure.steps import (
    certify,
    delete_identity,
    erase_stores,
    freeze,
    processors,
    record_failure,
    shred_key,
    verify,
)
from custody.erasure.steps.context import StepContext
from custody.subprocessors.registry import Agreement, ProcessorRegistry

log = logging.getLogger(__name__)

ACTOR: Final = "erasure-workflow"


@dataclass(frozen=True)
class Step:
    """A workflow step: the name the ASL invokes it by, and the function that runs it."""

    name: str
    run: Callable[[StepContext, Any], BaseModel]


# The one mapping from the names the ASL uses (custody.declared.workflow) to the code that runs them.
STEPS: Final[Mapping[str, Step]] = {
    workflow.FREEZE: Step(workflow.FREEZE, freeze.run),
    workflow.ERASE_STORES: Step(workflow.ERASE_STORES, erase_stores.run),
    workflow.LIST_PROCESSORS: Step(workflow.LIST_PROCESSORS, processors.list_processors),
    workflow.ASK_PROCESSOR: Step(workflow.ASK_PROCESSOR, processors.ask_processor),
    workflow.RECORD_PROCESSOR_OUTCOME: Step(workflow.RECORD_PROCESSOR_OUTCOME, processors.record_processor_outcome),
    workflow.SHRED_KEY: Step(workflow.SHRED_KEY, shred_key.run),
    workflow.DELETE_IDENTITY: Step(workflow.DELETE_IDENTITY, delete_identity.run),
    workflow.VERIFY: Step(workflow.VERIFY, verify.run),
    workflow.CERTIFY: Step(workflow.CERTIFY, certify.run),
    workflow.RECORD_FAILURE: Step(workflow.RECORD_FAILURE, record_failure.run),
}

_EVENT: Final[TypeAdapter[contract.StepInput]] = TypeAdapter(contract.StepEvent)


def parse(event: Mapping[str, Any]) -> contract.StepInput:
    """The event as its step's input contract; raises `pydantic.ValidationError` otherwise."""
    return _EVENT.validate_python(dict(event))


def run(event: Mapping[str, Any], settings: Settings, context: StepContext | None = None) -> dict[str, Any]:
    """Run the step the event names; returns its output (counts and statuses) as JSON."""
    parsed = parse(event)
    name = str(getattr(parsed, "step"))  # noqa: B009 - every input contract has its literal `step`
    context = context or StepContext.of(settings)
    ledger = AuditLedger(settings)
    try:
        output = STEPS[name].run(context, parsed)
    except Exception as error:
        _audit(ledger, context, name, parsed, f"error:{type(error).__name__}", {}, strict=False)
        raise
    result = output.model_dump(mode="json")
    _audit(ledger, context, name, parsed, "failed" if name == workflow.RECORD_FAILURE else "ok", result, strict=True)
    return result


def counts(result: Mapping[str, Any]) -> dict[str, int]:
    """The integers of a step's output (booleans as 0/1), and each store's total of EraseStores' `stores`.

    Nothing else goes into the ledger. EraseStores' one event names every store it was given with
    what the round erased from it: one write per run, so a retry after a failed write can neither
    duplicate nor lose a store's record (as one event per store could, half written).
    """
    found = {key: int(value) for key, value in result.items() if isinstance(value, int)}
    for total in result.get("stores") or ():
        if isinstance(total, Mapping) and isinstance(total.get("store"), str):
            found[str(total["store"])] = int(total["erased"])
    return found


def _audit(
    ledger: AuditLedger,
    context: StepContext,
    name: str,
    event: contract.StepInput,
    outcome: str,
    result: Mapping[str, Any],
    *,
    strict: bool,
) -> None:
    """The step's ledger event. A step that raised keeps its own error even if the ledger fails too."""
    target, processor = _target(context, event)
    try:
        ledger.record(
            step=name,
            target=target,
            outcome=outcome,
            actor=ACTOR,
            request_id=event.request_id,
            subject_id=event.subject_id,
            counts=counts(result),
            attests=str(result["certificate_digest"]) if name == workflow.CERTIFY and result else None,
            processor=processor,
        )
    except Exception:
        if strict:
            raise
        log.exception("The audit event of a failed step could not be written")


def _target(context: StepContext, event: contract.StepInput) -> tuple[str, Agreement | None]:
    processor_id = getattr(event, "processor_id", None)
    if processor_id is not None:
        agreement = ProcessorRegistry(context.settings).get(str(processor_id))
        if agreement is not None:
            return f"processor/{agreement.processor_id}", agreement
        return "processor", None
    return "workflow", None
