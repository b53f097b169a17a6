"""The erasure workflow's steps, invoked by `statemachines/erasure.asl.json`.

The event is `{"step", "request_id", "subject_id", ...}`; the result is counts and statuses.
An error's class name is what the state machine's Retry and Catch see (`ResidualDataFound`,
`TransientError`, ...), so domain errors propagate as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.api import observability
from custody.erasure import ErasureSteps
from custody.settings import get_settings

obs = observability("erasure_steps")

Step = Callable[[ErasureSteps, dict[str, Any]], dict[str, Any]]

STEPS: dict[str, Step] = {
    "freeze": ErasureSteps.freeze,
    "erase_store": ErasureSteps.erase_store,
    "notify_processors": ErasureSteps.notify_processors,
    "shred_key": ErasureSteps.shred_key,
    "delete_identity": ErasureSteps.delete_identity,
    "verify": ErasureSteps.verify,
    "certify": ErasureSteps.certify,
    "record_failure": ErasureSteps.record_failure,
}


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = STEPS.get(str(event.get("step")))
    if step is None:
        raise ValueError("Unknown erasure step.")
    obs.logger.append_keys(step=event["step"], request_id=event.get("request_id"))
    result = step(ErasureSteps(get_settings()), event)
    obs.logger.info("Erasure step done", extra={"result": result})
    obs.metrics.add_metric(name=f"ErasureStep_{event['step']}", unit="Count", value=1)
    return result
