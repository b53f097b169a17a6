"""The `erasure_steps` function: runs one step of the erasure workflow per invocation.

The event is the step's input (`custody.erasure.contract`), the result its output: ids in,
counts and statuses out. An error's class name is what the state machine's Retry and Catch see
(`ResidualDataFound`, `TransientError`, ...), so errors propagate as they are; an AWS fault that
outlived botocore's retries becomes `TransientError`, which every Task retries.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.declared.settings import get_settings
from custody.erasure import workflow
from custody.erasure.errors import TransientError
from custody.erasure.steps.context import StepContext
from custody.platform.observability import observability
from custody.platform.transient import transient_as

obs = observability("erasure_steps")


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
@transient_as(TransientError)  # an AWS fault botocore gave up on: the state machine retries it
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = str(event.get("step"))
    obs.logger.append_keys(step=step, request_id=event.get("request_id"))
    settings = get_settings()
    result = workflow.run(event, settings, StepContext.of(settings, remaining_ms=context.get_remaining_time_in_millis))
    obs.logger.info("Erasure step done", extra={"result": result})
    obs.metrics.add_metric(name=f"ErasureStep_{step}", unit="Count", value=1)
    return result
