"""The alarm topic (encrypted, TLS only) and the alarms that publish to it."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Annotations, Aws, Duration
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

from custody.declared import catalog, naming
from infra.config import CustodyConfig

PERIOD = Duration.minutes(5)
NO_SUBSCRIBER = "custody:noAlarmSubscriber"
RETENTION_FUNCTION = "retention"


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
        # CloudWatch publishes alarm notifications to the encrypted topic (SNS developer guide): the
        # topic's own policy (which enforce_ssl replaces the default one with) must allow it, and the
        # key must let it encrypt. Both only for alarms of this account and region (confused deputy).
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        from_our_alarms = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
        }
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[cloudwatch],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_our_alarms,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToTheTopic",
                principals=[cloudwatch],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=from_our_alarms,
            )
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        else:
            Annotations.of(self.topic).add_warning_v2(
                NO_SUBSCRIBER,
                "No one is subscribed to the alarm topic: set custody:alarmEmail (cdk.json or -c) to an address "
                "that will confirm the subscription, or subscribe your paging tool to the AlarmTopicArn output.",
            )
        self._action = actions.SnsAction(self.topic)

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
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

    def watch_undelivered(self, queue: sqs.IQueue, max_age: Duration) -> None:
        """A deletion request nobody took off the processor queue within `max_age`: it would expire unread."""
        self._alarm(
            "ProcessorRequestsUndelivered",
            queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            f"A deletion request to a sub-processor has waited over {max_age.to_hours():.0f} hours on the processor "
            "queue: the relay is not consuming it, and it would expire unread. See "
            "docs/runbooks/unconfirmed-processor.md.",
            threshold=max_age.to_seconds(),
        )

    def watch_admission(self, queue: sqs.IQueue, config: CustodyConfig) -> None:
        """The erasures waiting for a slot, unsuccessful endings, and retention falling behind."""
        window = Duration.hours(config.retention_window_hours)
        self._alarm(
            "ErasureAdmissionBacklog",
            queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            f"An erasure has waited over {config.retention_window_hours} hours for a slot on the admission queue: "
            "more erasures are asked for than custody:erasureConcurrency carries, or the admission function is "
            "not draining the queue. See docs/runbooks/failed-erasure.md.",
            threshold=window.to_seconds(),
        )
        self._alarm(
            "ErasureEndedUnsuccessfully",
            # recorded by the outcome rule's function, or by the admission's (a reconcile that found an
            # ending whose event was lost, a ticket that never found a slot)
            cloudwatch.MathExpression(
                expression="FILL(outcomes, 0) + FILL(admission, 0)",
                using_metrics={
                    "outcomes": custody_metric(naming.ERASURE_OUTCOMES, "ErasureEndedUnsuccessfully", "Sum", PERIOD),
                    "admission": custody_metric(naming.ERASURE_ADMISSION, "ErasureEndedUnsuccessfully", "Sum", PERIOD),
                },
                period=PERIOD,
                label="Erasure executions ended unsuccessfully",
            ),
            "An erasure execution ended failed, timed out or aborted (a limit no Catch sees among the causes), or "
            "never found a slot: the request is recorded failed. See docs/runbooks/failed-erasure.md.",
        )
        behind = cloudwatch.Alarm(
            self,
            "RetentionFallingBehind",
            metric=erasure_metric("RetentionDueNotStarted", "Maximum", Duration.days(1)),
            threshold=1,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                "Two daily retention sweeps in a row left customers due but not erased: more become due than the "
                "erasure capacity carries. Raise custody:erasureConcurrency (docs/deploy.md, 'Sizing erasures')."
            ),
        )
        behind.add_alarm_action(self._action)
        behind.add_ok_action(self._action)

    def watch_function(self, function_name: str, function: lambda_.IFunction) -> None:
        self._alarm(
            f"{_pascal(function_name)}Errors",
            function.metric_errors(period=PERIOD),
            f"The {function_name} function raised an unhandled error.",
        )

    def watch_erasure_sla(self, config: CustodyConfig) -> cloudwatch.Alarm:
        """Any erasure request older than the SLA and not complete (published hourly by `retention`)."""
        alarm = cloudwatch.Alarm(
            self,
            "ErasureSla",
            metric=erasure_metric("OldestOpenErasureAgeSeconds", "Maximum"),
            threshold=config.erasure_sla_days * 86_400,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                f"An erasure request is older than {config.erasure_sla_days} days and not complete; the legal limit "
                "is one month. See docs/runbooks/failed-erasure.md and docs/runbooks/unconfirmed-processor.md."
            ),
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm

    def watch_requests(self, config: CustodyConfig, senders: Iterable[str]) -> None:
        """Data-subject requests before and past their due date (published hourly by `retention`), and notices.

        `RequestsDueSoon` fires while an open request falls due within `custody:requestDueWarningDays`
        (before it is late, while it can still be answered or extended); `RequestsOverdue` once one is
        past its date; `NoticesFailed` when a notice to a customer could not be sent by any of `senders`
        (the functions that send them: infra.access `sends_notices`).
        """
        days = config.request_due_warning_days
        self._alarm(
            "RequestsDueSoon",
            erasure_metric("RequestsDueSoon", "Maximum"),
            f"A data-subject request falls due within {days} days and is not answered: answer it, or extend it once "
            "with a reason (POST /v1/staff/requests/{request_id}/extension) while the first period lasts. "
            "`custody requests due` lists them. See docs/deadlines.md.",
        )
        self._alarm(
            "RequestsOverdue",
            erasure_metric("RequestsOverdue", "Maximum"),
            "A data-subject request is past its due date and not answered: the law's period is over. "
            "`custody requests due` lists it. See docs/deadlines.md.",
        )
        metrics = {
            f"m{index}": custody_metric(name, "NoticesFailed", "Sum", PERIOD) for index, name in enumerate(senders)
        }
        self._alarm(
            "NoticesFailed",
            cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({name}, 0)" for name in metrics),
                using_metrics=dict(metrics),
                period=PERIOD,
                label="Notices to customers that failed",
            ),
            "A notice to a customer (a receipt, an extension, a completion) could not be sent: SES refused or "
            "throttled it, or the sender is not verified (custody:noticeSender). The request records which "
            "(`notices` on GET /v1/requests/{request_id}). See docs/deadlines.md.",
        )

    def dashboard(self, config: CustodyConfig, state_machine: sfn.StateMachine) -> cloudwatch.Dashboard:
        """Request ages and outcomes: started, completed, failed erasures; the oldest open; the sweep."""
        hour = Duration.hours(1)
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=config.regional_name("erasure"))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Erasures: started, completed, failed",
                left=[
                    state_machine.metric_started(period=hour),
                    state_machine.metric_succeeded(period=hour),
                    state_machine.metric_failed(period=hour),
                    state_machine.metric_timed_out(period=hour),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Oldest open erasure (seconds) against the SLA",
                left=[erasure_metric("OldestOpenErasureAgeSeconds", "Maximum")],
                right=[erasure_metric("OpenErasures", "Maximum")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=config.erasure_sla_days * 86_400, label="SLA")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Retention sweep",
                left=[
                    erasure_metric(name, "Sum", Duration.days(1))
                    for name in ("RetentionCandidates", "RetentionErasuresStarted", "RetentionSkipped")
                ],
                right=[
                    erasure_metric("RetentionIndexQueries", "Sum", Duration.days(1)),
                    erasure_metric("RetentionDueNotStarted", "Maximum", Duration.days(1)),
                ],
                width=12,
            ),
            cloudwatch.SingleValueWidget(
                title="Oldest open erasure (seconds)",
                metrics=[erasure_metric("OldestOpenErasureAgeSeconds", "Maximum")],
                width=12,
            ),
        )
        # A request a legal hold holds waits lawfully, but the month GDPR art. 12(3) gives to answer runs
        # on: held requests, and those past it, are shown apart from the SLA (docs/retention.md).
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Erasures held by a legal hold (past the month art. 12(3) allows: right)",
                left=[erasure_metric("HeldErasures", "Maximum")],
                right=[erasure_metric("HeldErasuresPastDue", "Maximum")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Holds ended and legal obligations ended (daily sweep)",
                left=[
                    erasure_metric(name, "Sum", Duration.days(1))
                    for name in ("HeldErasuresReleased", "RetentionObligationsEnded")
                ],
                right=[erasure_metric("OldestHeldErasureAgeSeconds", "Maximum")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"Data-subject requests overdue, and due within {config.request_due_warning_days} days",
                left=[erasure_metric("RequestsOverdue", "Maximum"), erasure_metric("RequestsDueSoon", "Maximum")],
                width=24,
            )
        )
        return dashboard

    def watch_api(self, api: apigateway.RestApi) -> None:
        self._alarm(
            "Api5xx",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            "The API answered 5xx: bad input must never cause one, so this is a defect or an outage.",
        )


def erasure_metric(name: str, statistic: str, period: Duration | None = None) -> cloudwatch.Metric:
    """A metric the `retention` function publishes (Powertools: namespace and `service` dimension)."""
    return custody_metric(RETENTION_FUNCTION, name, statistic, period or Duration.hours(1))


def custody_metric(function: str, name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A metric a catalog function publishes through Powertools (its namespace and `service` dimension)."""
    return cloudwatch.Metric(
        namespace=catalog.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": catalog.function(function).service},
        statistic=statistic,
        period=period,
    )


def _pascal(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))
