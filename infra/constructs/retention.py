"""The retention schedule: EventBridge invokes the `retention` function daily (sweep) and hourly (SLA).

The sweep erases customers inactive past the configured period through the erasure workflow
(custody.retention.disposal); the hourly run only measures the age of the oldest open erasure, which the
SLA alarm watches. The events carry a task name, never an id.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import CustodyConfig
from infra.constructs.queues import let_eventbridge_dead_letter

RETRY_ATTEMPTS = 2
TASKS = ("sweep", "sla")


class RetentionSchedule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CustodyConfig,
        function: lambda_.IFunction,
        dead_letters: sqs.IQueue | None,
        dead_letter_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        names = {task: config.name(f"retention-{task}") for task in TASKS}
        # The dead-letter queue is encrypted with the operations key: EventBridge may use it to
        # deliver a failed event there, only for these rules (ARNs by name: no reference cycle).
        let_eventbridge_dead_letter(
            dead_letter_key, sid="EventBridgeDeliversRetentionDeadLetters", rule_names=list(names.values())
        )
        for task, rule_id, schedule, description in (
            (
                "sweep",
                "Sweep",
                events.Schedule.cron(hour=str(config.retention_sweep_hour_utc), minute="0"),
                f"Daily: erase customers inactive for {config.inactivity_days} days (reason retention).",
            ),
            ("sla", "Sla", events.Schedule.rate(Duration.hours(1)), "Hourly: measure the oldest open erasure."),
        ):
            rule = events.Rule(self, rule_id, rule_name=names[task], schedule=schedule, description=description)
            rule.add_target(
                targets.LambdaFunction(
                    function,
                    event=events.RuleTargetInput.from_object({"task": task}),
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=Duration.hours(1),
                    dead_letter_queue=dead_letters,
                )
            )
            self.rules[task] = rule
