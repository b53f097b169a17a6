"""The `erasure_outcomes` function: records how each erasure execution ended (EventBridge).

The rule on the erasure state machine's "Step Functions Execution Status Change" events (statuses
SUCCEEDED, FAILED, TIMED_OUT, ABORTED; `infra.constructs.admission`) invokes it asynchronously with
the event: `{"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
"resources": [execution ARN], "detail": {"executionArn", "stateMachineArn", "name", "status",
"startDate", "stopDate", "input", "output", "error", "cause", ...}}` (Step Functions developer
guide, "EventBridge for Step Functions execution status changes"). Only `detail.name`, `status` and
`stateMachineArn` are read: `input`, `output`, `error` and `cause` are neither read nor logged.

`custody.erasure.outcomes` frees the slot and, for any ending but SUCCEEDED, records the failure on
the request and in the ledger; the function publishes `ErasureEndedUnsuccessfully`, which an alarm
watches. An event of another state machine or a non-terminal status is ignored (counted).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.declared import naming
from custody.declared.settings import get_settings
from custody.erasure.outcomes import ENDINGS, Outcomes
from custody.platform.observability import observability

obs = observability(naming.ERASURE_OUTCOMES)
DETAIL_TYPE = "Step Functions Execution Status Change"


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    detail = event.get("detail") or {}
    status = str(detail.get("status", ""))
    ours = (
        event.get("source") == "aws.states"
        and event.get("detail-type") == DETAIL_TYPE
        and detail.get("stateMachineArn") == settings.erasure_state_machine_arn
        and isinstance(detail.get("name"), str)
    )
    if not ours or status not in ENDINGS:
        obs.metrics.add_metric(name="ErasureOutcomeEventsIgnored", unit="Count", value=1)
        return {"recorded": False}
    ending = Outcomes(settings).ended(detail["name"], status)
    if not ending.succeeded:
        obs.metrics.add_metric(name="ErasureEndedUnsuccessfully", unit="Count", value=1)
        obs.logger.warning(
            "Erasure execution ended unsuccessfully",
            extra={"status": status, "marked_failed": ending.marked_failed},
        )
    return {"recorded": True, "status": status, "marked_failed": ending.marked_failed}
