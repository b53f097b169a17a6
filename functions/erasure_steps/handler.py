"""The erasure workflow's steps, invoked by `statemachines/erasure.asl.json`.

The event is `{"step", "request_id", "subject_id", ...}`; the result is counts and statuses.
An error's class name is what the state machine's Retry and Catch see (`ResidualDataFound`,
`TransientError`, ...), so domain errors propagate as they are.

Every step run writes one audit event, here and nowhere else: outcome `ok` after a step
returned (`failed` for `record_failure`), `error:<ErrorClass>` when it raised, counts from its
result (integers only), chained under the request id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.api.http import observability
from custody.audit.grammar import WORKFLOW_STEPS
from custody.audit.ledger import AuditLedger
from custody.declared import datamap
from custody.declared.settings import get_settings
from custody.erasure.steps import ErasureSteps, TransientError
from custody.platform.transient import transient_as

obs = observability("erasure_steps")
ACTOR = "erasure-workflow"
STORE_NAMES = frozenset(store.name for store in datamap.STORES)

# The steps the state machine may name; each is the `ErasureSteps` method of that name.
STEPS = WORKFLOW_STEPS


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
@transient_as(TransientError)  # an AWS fault botocore gave up on: the state machine retries it
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    name = str(event.get("step"))
    if name not in STEPS:
        raise ValueError("Unknown erasure step.")
    obs.logger.append_keys(step=name, request_id=event.get("request_id"))
    settings = get_settings()
    step: Callable[[dict[str, Any]], dict[str, Any]] = getattr(ErasureSteps(settings), name)
    ledger = AuditLedger(settings)
    try:
        result = step(event)
    except Exception as error:
        _audit(ledger, name, event, f"error:{type(error).__name__}", {})
        raise
    outcome = "failed" if name == "record_failure" else "ok"
    _audit(ledger, name, event, outcome, result, strict=True)
    obs.logger.info("Erasure step done", extra={"result": result})
    obs.metrics.add_metric(name=f"ErasureStep_{name}", unit="Count", value=1)
    return result


def _audit(
    ledger: AuditLedger, name: str, event: dict[str, Any], outcome: str, result: dict[str, Any], strict: bool = False
) -> None:
    """The step's ledger event. A step that raised keeps its own error even if the ledger fails too."""
    store = str(event.get("store", ""))
    try:
        ledger.record(
            step=name,
            target=store if name == "erase_store" and store in STORE_NAMES else "workflow",
            outcome=outcome,
            actor=ACTOR,
            request_id=str(event["request_id"]),
            subject_id=str(event["subject_id"]),
            counts=counts(result),
            attests=str(result["certificate_digest"]) if name == "certify" else None,
        )
    except Exception:
        if strict:
            raise
        obs.logger.exception("The audit event of a failed step could not be written")


def counts(result: dict[str, Any]) -> dict[str, int]:
    """The integers of a step's result (booleans as 0/1): nothing else goes into the ledger."""
    return {key: int(value) for key, value in result.items() if isinstance(value, int)}
