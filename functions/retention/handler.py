"""The `retention` function: the scheduled retention sweep, the erasure SLA measure and the requests' due dates.

EventBridge invokes it with `{"task": "sweep"}` (daily) or `{"task": "sla"}` (hourly). The sweep
starts retention erasures, releases the erasures whose legal hold ended and ends the retentions whose
legal obligations ended (custody.retention.disposal); both publish metrics the dashboard and the SLA
alarm read — the held erasures among them (`HeldErasures`, `HeldErasuresPastDue`: past the month GDPR
art. 12(3) allows): counts and ages only, never an id of a customer.
The same run publishes the data-subject requests overdue or due within `Settings.request_due_warning_days`
(custody.deadlines.register).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.deadlines.register import RequestsRegister
from custody.declared.settings import get_settings
from custody.platform.observability import observability
from custody.retention import disposal

obs = observability("retention")
TASKS = frozenset({"sweep", "sla"})


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = str(event.get("task", "sweep"))
    if task not in TASKS:
        raise ValueError("Unknown retention task.")
    now = datetime.now(UTC)
    settings = get_settings()
    result: dict[str, Any] = {"task": task}
    if task == "sweep":
        report = disposal.RetentionSweep(settings).run(now)
        counts = report.counts()
        for name, metric in (
            ("candidates", "RetentionCandidates"),
            ("started", "RetentionErasuresStarted"),
            ("skipped", "RetentionSkipped"),
            ("buckets_queried", "RetentionIndexQueries"),
            ("due_not_started", "RetentionDueNotStarted"),
            ("holds_released", "HeldErasuresReleased"),
            ("retention_ended", "RetentionObligationsEnded"),
        ):
            obs.metrics.add_metric(name=metric, unit="Count", value=counts[name])
        obs.logger.info("Retention sweep done", extra={"counts": counts})
        result.update(counts)
    opened = disposal.open_erasures(settings, now)
    obs.metrics.add_metric(name="OpenErasures", unit="Count", value=opened.count)
    obs.metrics.add_metric(name="OldestOpenErasureAgeSeconds", unit="Seconds", value=opened.oldest_age_seconds)
    result.update({"open_erasures": opened.count, "oldest_open_age_seconds": int(opened.oldest_age_seconds)})
    held = disposal.held_erasures(settings, now)
    obs.metrics.add_metric(name="HeldErasures", unit="Count", value=held.count)
    obs.metrics.add_metric(name="HeldErasuresPastDue", unit="Count", value=held.past_due)
    obs.metrics.add_metric(name="OldestHeldErasureAgeSeconds", unit="Seconds", value=held.oldest_age_seconds)
    result.update({"held_erasures": held.count, "held_erasures_past_due": held.past_due})
    due = RequestsRegister(settings).due_counts(now)
    obs.metrics.add_metric(name="RequestsOverdue", unit="Count", value=due.overdue)
    obs.metrics.add_metric(name="RequestsDueSoon", unit="Count", value=due.due_soon)
    result.update({"requests_overdue": due.overdue, "requests_due_soon": due.due_soon})
    return result
