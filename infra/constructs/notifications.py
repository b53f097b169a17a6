"""The queue through which the erasure workflow asks sub-processors to delete a customer's data, and its relay.

Each message carries ids, the agreement's deadline and a Step Functions task token — never a
personal value. Encrypted with the operations key, TLS only. The `processor_relay` function
consumes it through an event source mapping with partial batch responses (`relay_with`) and POSTs
each request to the processor's endpoint; a message that fails `MAX_RECEIVES` times — the relay
pushes each retry back with a jittered exponential delay — moves to the dead-letter queue, whose
alarm pages the privacy officers, never silently expires.
"""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from custody.declared import catalog, naming
from infra.config import CustodyConfig
from infra.constructs.queues import dead_lettered_queue

MAX_RECEIVES = catalog.QUEUE_MAX_RECEIVES
RELAY_CONCURRENCY = 5  # SQS event source mappings allow 2 to 1,000


class ProcessorNotifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letters = dead_lettered_queue(
            self,
            name=naming.queue_name(config.prefix, naming.PROCESSOR_NOTIFICATIONS),
            key=key,
            visibility_seconds=catalog.function(naming.PROCESSOR_RELAY).queue_visibility_seconds,
            max_receives=MAX_RECEIVES,
        )

    def relay_with(self, function: lambda_.IFunction) -> lambda_.EventSourceMapping:
        """Invoke `function` with batches of the queue, reporting failed items (the function's role polls).

        No grant is added here: the function's role is built from `infra.access` (`relays_processor_queue`).
        """
        return lambda_.EventSourceMapping(
            self,
            "Relay",
            target=function,
            event_source_arn=self.queue.queue_arn,
            batch_size=catalog.QUEUE_BATCH_SIZE,
            report_batch_item_failures=True,
            # At most this many relays at once: a burst of erasures cannot flood a processor's endpoint.
            max_concurrency=RELAY_CONCURRENCY,
        )
