"""The `exporter` function: writes one customer's portable export archive (custody.customers.export_archive).

`subject_access` invokes it asynchronously (`InvocationType=Event`) with `{"subject_id", "export_id"}`
— ids only. Lambda queues the event and retries a failed invocation (the stack's event invoke
config); the job itself records any failure of its own on the export, so an invocation fails only
on an AWS error before it began, or when Lambda ends it (timeout, memory), which the export's
status reports once its deadline passes. Logs carry the export id and the outcome, never the
customer's id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, Field, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.customers.export_archive import ExportJob
from custody.declared.settings import get_settings
from custody.platform.observability import observability

obs = observability("exporter")

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class ExportEvent(BaseModel):
    """The event `subject_access` sends: the customer's opaque id and the export's id."""

    subject_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,128}$")
    export_id: str = Field(pattern=_UUID)


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
@event_parser(model=ExportEvent)
def lambda_handler(event: ExportEvent, context: LambdaContext) -> dict[str, Any]:
    outcome = ExportJob(get_settings()).run(event.subject_id, event.export_id, context.get_remaining_time_in_millis())
    status = outcome.value if outcome is not None else "skipped"
    obs.metrics.add_metric(name=f"Exports{status.capitalize()}", unit="Count", value=1)
    obs.logger.info("Export job done", extra={"export_id": event.export_id, "status": status})
    return {"export_id": event.export_id, "status": status}
