"""Admission at capacity: the queue erasures wait on for a slot, its consumer, and the rule on their endings.

* The admission queue carries tickets (a request id and an attempt: no personal data), encrypted with
  the operations key, TLS only. The `erasure_admission` function drains it through an event source
  mapping with partial batch responses and a small `MaximumConcurrency` (`ADMISSION_CONCURRENCY`): it
  starts what the slots allow and defers the rest with a jittered delay. A ticket received
  `catalog.ADMISSION_MAX_RECEIVES` times is recorded on its request as not started and moves
  to the dead-letter queue, whose alarm pages (never silently expires: 14 days' retention).
* An EventBridge rule on the erasure state machine's "Step Functions Execution Status Change" events
  with a terminal status invokes `erasure_outcomes` (slot released, failure recorded and alarmed), with
  EventBridge's retry policy and a dead-letter queue for events it could not deliver.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from custody.declared import catalog, naming, workflow
from infra.config import CustodyConfig
from infra.constructs.queues import dead_lettered_queue, let_eventbridge_dead_letter

# SQS event source mappings allow a MaximumConcurrency of 2 to 1,000 (Lambda developer guide,
# "Configuring maximum concurrency for Amazon SQS event sources"): two drain the queue, so a backlog
# costs few Lambda units and the slots, not the consumers, set the pace of erasures.
ADMISSION_CONCURRENCY = 2
# EventBridge retries delivering an event to its target for up to 24 hours and 185 attempts (its
# maximums, EventBridge user guide, "Event retry policy and using dead-letter queues"); what it still
# cannot deliver goes to the outcomes function's dead-letter queue.
OUTCOME_RETRY_ATTEMPTS = 185
OUTCOME_EVENT_AGE = Duration.hours(24)
STATUS_CHANGE = "Step Functions Execution Status Change"


class ErasureAdmission(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._key = key
        name = naming.queue_name(config.prefix, naming.ERASURE_ADMISSIONS)
        self.queue, self.dead_letters = dead_lettered_queue(
            self,
            name=name,
            key=key,
            visibility_seconds=catalog.function(naming.ERASURE_ADMISSION).queue_visibility_seconds,
            max_receives=catalog.ADMISSION_MAX_RECEIVES,
        )

    def admit_with(self, function: lambda_.IFunction) -> lambda_.EventSourceMapping:
        """Invoke `function` with batches of tickets, reporting the ones left for later (the role polls).

        No grant is added here: the function's role is built from `infra.access` (`admits_erasures`).
        """
        return lambda_.EventSourceMapping(
            self,
            "Admit",
            target=function,
            event_source_arn=self.queue.queue_arn,
            batch_size=catalog.function(naming.ERASURE_ADMISSION).queue_batch_size,
            report_batch_item_failures=True,
            max_concurrency=ADMISSION_CONCURRENCY,
        )

    def watch_endings(
        self, state_machine_arn: str, function: lambda_.IFunction, dead_letters: sqs.IQueue | None
    ) -> events.Rule:
        """The rule that sends each terminal status change of the erasure workflow to `function`."""
        rule_name = self._config.name("erasure-outcomes")
        # The dead-letter queue is encrypted with the operations key: EventBridge may use it to deliver
        # an undeliverable event there, only for this rule (its ARN by name: no reference cycle).
        let_eventbridge_dead_letter(
            self._key, sid="EventBridgeDeliversErasureOutcomeDeadLetters", rule_names=[rule_name]
        )
        rule = events.Rule(
            self,
            "Endings",
            rule_name=rule_name,
            description="Every erasure execution that ends: its slot is freed, an unsuccessful end recorded.",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[STATUS_CHANGE],
                detail={"stateMachineArn": [state_machine_arn], "status": sorted(workflow.EXECUTION_ENDINGS)},
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                function,
                retry_attempts=OUTCOME_RETRY_ATTEMPTS,
                max_event_age=OUTCOME_EVENT_AGE,
                dead_letter_queue=dead_letters,
            )
        )
        return rule
