"""The alarm topic (encrypted, TLS only) and the alarms that publish to it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from custody import naming
from infra.config import CustodyConfig

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Alarms",
            topic_name=config.name(naming.ALARM_TOPIC),
            display_name="CRM Custody alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic (SNS developer guide).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToTheTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = actions.SnsAction(self.topic)

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm

    def watch_workflow(self, state_machine: sfn.StateMachine) -> None:
        for name, metric in (
            ("Failed", state_machine.metric_failed(period=PERIOD)),
            ("TimedOut", state_machine.metric_timed_out(period=PERIOD)),
            ("Aborted", state_machine.metric_aborted(period=PERIOD)),
        ):
            self._alarm(f"Erasure{name}", metric, f"An erasure execution {name.lower()}: a customer's data may remain.")

    def watch_dead_letters(self, function_name: str, queue: sqs.IQueue) -> None:
        self._alarm(
            f"{_pascal(function_name)}DeadLetters",
            queue.metric_approximate_number_of_messages_visible(period=PERIOD),
            f"An asynchronous invocation of {function_name} failed for good and sits in its dead-letter queue.",
        )

    def watch_function(self, function_name: str, function: lambda_.IFunction) -> None:
        self._alarm(
            f"{_pascal(function_name)}Errors",
            function.metric_errors(period=PERIOD),
            f"The {function_name} function raised an unhandled error.",
        )

    def watch_api(self, api: apigateway.RestApi) -> None:
        self._alarm(
            "Api5xx",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            "The API answered 5xx: bad input must never cause one, so this is a defect or an outage.",
        )


def _pascal(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))
