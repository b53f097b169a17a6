"""The `processor_relay` function: deletion requests from the processor queue to each processor's endpoint.

Invoked by the queue's event source mapping with a batch of SQS records and `ReportBatchItemFailures`:
each record is delivered by `custody.subprocessors.relay.Relay`; a record that fails is pushed back
with a jittered exponential delay and named in `batchItemFailures`, so SQS retries it alone and
moves it to the dead-letter queue after the queue's `maxReceiveCount`. A batch that fails whole
is reported the same way rather than raised: the dead-letter queue's alarm, not the function's
error alarm, is the signal for a processor that cannot be reached.

Logs carry the processor id, the SQS message id, the receive count and the reason — never the
body (it holds the task token) nor any customer's id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.declared import naming
from custody.declared.settings import Settings, get_settings
from custody.platform.observability import observability
from custody.subprocessors.notifications import postpone
from custody.subprocessors.relay import DeliveryFailed, Relay, retry_delay

obs = observability(naming.PROCESSOR_RELAY)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_relays: dict[Settings, Relay] = {}


def relay() -> Relay:
    """One relay per execution environment and settings: its connection pool outlives an invocation."""
    settings = get_settings()
    if settings not in _relays:
        _relays.clear()
        _relays[settings] = Relay(settings)
    return _relays[settings]


def record_handler(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count or "1")
    attribute = record.raw_event.get("messageAttributes", {}).get("processor_id") or {}
    processor_id = attribute.get("stringValue")
    try:
        status = relay().deliver(record.body, record.message_id)
    except Exception as failure:  # any failure: retried later, the reason logged without the body
        delay = retry_delay(attempt)
        obs.logger.warning(
            "Deletion request not delivered",
            extra={
                "processor_id": processor_id,
                "delivery": record.message_id,
                "attempt": attempt,
                "reason": str(failure) if isinstance(failure, DeliveryFailed) else type(failure).__name__,
                "retry_in_seconds": delay,
            },
        )
        obs.metrics.add_metric(name="ProcessorDeliveryFailures", unit="Count", value=1)
        postpone(get_settings(), record.receipt_handle, delay)
        raise
    obs.logger.info(
        "Deletion request delivered",
        extra={"processor_id": processor_id, "delivery": record.message_id, "attempt": attempt, "status": status},
    )
    obs.metrics.add_metric(name="ProcessorDeliveries", unit="Count", value=1)


@obs.logger.inject_lambda_context(log_event=False, clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
