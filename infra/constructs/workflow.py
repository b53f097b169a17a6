"""The erasure workflow: a Standard state machine from `statemachines/erasure.asl.json`.

Its history keeps ids, counts and statuses only: execution data is left out of the logs too.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from custody.declared import naming
from infra.config import CustodyConfig
from infra.constructs.loggroups import encrypted_log_group
from infra.nag import acknowledge

ASL = Path(__file__).resolve().parents[2] / "statemachines" / "erasure.asl.json"
VENDED_LOGS = "/aws/vendedlogs/states/"

# Vended log delivery and X-Ray have no resource-level permissions (Step Functions developer guide).
_LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]
_XRAY_ACTIONS = [
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
]


def erasure_state_machine_name(config: CustodyConfig) -> str:
    return naming.state_machine_name(config.prefix, naming.ERASURE_STATE_MACHINE)


def execution_log_group_name(config: CustodyConfig) -> str:
    return f"{VENDED_LOGS}{erasure_state_machine_name(config)}"


def erasure_state_machine_arn(config: CustodyConfig) -> str:
    """Known before the state machine exists, so functions can be told it without a cycle."""
    name = erasure_state_machine_name(config)
    return f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:{name}"


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CustodyConfig,
        steps: lambda_.IFunction,
        alarm_topic: sns.ITopic,
        alarm_key: kms.IKey,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        # Under /aws/vendedlogs/: Step Functions then needs no new statement in the account's CloudWatch
        # Logs resource policy (5,120 characters, often near full), which would fail the deploy.
        self.log_group: logs.LogGroup = encrypted_log_group(
            self, "ExecutionLogs", key=log_key, days=config.log_retention_days, name=execution_log_group_name(config)
        )
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
        policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="The erasure workflow invokes its steps (which notify sub-processors) and raises alarms.",
            statements=[
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[steps.function_arn]),
                iam.PolicyStatement(actions=["sns:Publish"], resources=[alarm_topic.topic_arn]),
                iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[alarm_key.key_arn]),
                iam.PolicyStatement(actions=_LOG_DELIVERY_ACTIONS, resources=["*"]),
                iam.PolicyStatement(actions=_XRAY_ACTIONS, resources=["*"]),
            ],
            roles=[role],
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "The erasure workflow role's '*' resources are CloudWatch Logs vended-delivery and X-Ray actions, "
            "which have no resource-level permissions; its Lambda and SNS actions name their one resource.",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Erasure",
            state_machine_name=erasure_state_machine_name(config),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(ASL)),
            definition_substitutions={
                "ErasureStepsFunctionArn": steps.function_arn,
                "AlarmTopicArn": alarm_topic.topic_arn,
            },
            role=role.without_policy_updates(),
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        self.state_machine.node.add_dependency(policy)
