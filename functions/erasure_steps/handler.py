"""The erasure workflow's steps, invoked by `statemachines/erasure.asl.json`.

Input and output are ids, counts and statuses only: Step Functions keeps its history for
90 days and it cannot be edited, so no personal value may ever pass through it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.api import observability
from custody.errors import NotImplementedYet

obs = observability("erasure_steps")

STEPS = (
    "freeze",
    "erase_store",
    "notify_processors",
    "shred_key",
    "delete_identity",
    "verify",
    "certify",
    "record_failure",
)


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = event.get("step")
    if step not in STEPS:
        raise ValueError(f"Unknown erasure step: {step!r}")
    obs.logger.append_keys(step=step, request_id=event.get("request_id"))
    raise NotImplementedYet(f"The erasure step {step!r} has not been built yet.")
