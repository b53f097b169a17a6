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

# The steps the state machine may name; each is the `ErasureSteps` method of that name.
STEPS = frozenset(
    {
        "freeze",
        "erase_store",
        "notify_processors",
        "shred_key",
        "delete_identity",
        "verify",
        "certify",
        "record_failure",
    }
)


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    name = str(event.get("step"))
    if name not in STEPS:
        raise ValueError("Unknown erasure step.")
    obs.logger.append_keys(step=name, request_id=event.get("request_id"))
    step: Callable[[dict[str, Any]], dict[str, Any]] = getattr(ErasureSteps(get_settings()), name)
    result = step(event)
    obs.logger.info("Erasure step done", extra={"result": result})
    obs.metrics.add_metric(name=f"ErasureStep_{name}", unit="Count", value=1)
    return result
