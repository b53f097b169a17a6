"""The `erasure_admission` function: starts the erasures waiting on the admission queue as slots free.

Invoked by the queue's event source mapping (a small `MaximumConcurrency`) with a batch of tickets
and `ReportBatchItemFailures`. Each ticket is admitted by `custody.erasure.admission.Admission`: a
ticket that starts (or names no request) is done; one that finds no slot is made visible again
after a jittered, growing delay and named in `batchItemFailures`, so it stays on the queue — up to
the queue's `maxReceiveCount`, where it is recorded on its request as not started and moves to the
alarmed dead-letter queue.

Logs carry the SQS message id, the receive count and counts — never the body's ids of a customer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.declared import naming
from custody.declared.settings import get_settings
from custody.erasure.admission import Admission, Ticket, defer_seconds
from custody.platform.observability import observability

obs = observability(naming.ERASURE_ADMISSION)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class NoSlot(Exception):
    """The ticket found no free slot: it stays on the queue."""


def record_handler(record: SQSRecord) -> None:
    receive_count = int(record.attributes.approximate_receive_count or "1")
    admission = Admission(get_settings())
    try:
        ticket = Ticket.of(record.body)
    except (ValueError, KeyError, TypeError):
        obs.logger.error("Not an admission ticket; dropped", extra={"message": record.message_id})
        obs.metrics.add_metric(name="AdmissionTicketsMalformed", unit="Count", value=1)
        return
    admitted = admission.admit_ticket(ticket, receive_count)
    if admission.unsuccessful_endings:
        obs.metrics.add_metric(name="ErasureEndedUnsuccessfully", unit="Count", value=admission.unsuccessful_endings)
    if admitted:
        obs.metrics.add_metric(name="ErasuresAdmitted", unit="Count", value=1)
        return
    delay = defer_seconds(receive_count)
    admission.defer(record.receipt_handle, delay)
    obs.metrics.add_metric(name="ErasuresDeferred", unit="Count", value=1)
    obs.logger.info(
        "No erasure slot free; ticket deferred",
        extra={"message": record.message_id, "receive_count": receive_count, "retry_in_seconds": delay},
    )
    raise NoSlot


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
