"""AWS Backup: a vault encrypted with the data key under Vault Lock, and a daily plan.

The plan selects every table except those erased by shredding: a backup of a customer's
wrapped key would outlive its shredding, and the point of shredding is that no copy does.
Vault Lock's maximum retention bounds how long any recovery point can exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import CustodyConfig
from infra.constructs.lifecycle import KEEP
from infra.nag import acknowledge

SERVICE_POLICY = "service-role/AWSBackupServiceRolePolicyForBackup"


class Backup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CustodyConfig,
        key: kms.IKey,
        tables: Mapping[str, dynamodb.ITable],
    ) -> None:
        super().__init__(scope, construct_id)
        retention = Duration.days(config.backup_retention_days)
        changeable = config.backup_vault_lock_changeable_days
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=config.name("vault"),
            encryption_key=key,
            lock_configuration=backup.LockConfiguration(
                min_retention=Duration.days(1),
                max_retention=retention,
                changeable_for=Duration.days(changeable) if changeable is not None else None,
            ),
            removal_policy=KEEP,
        )
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=config.name("tables"),
            backup_vault=self.vault,
            backup_plan_rules=[
                backup.BackupPlanRule(
                    rule_name="Daily",
                    schedule_expression=events.Schedule.cron(hour="3", minute="0"),
                    delete_after=retention,
                    start_window=Duration.hours(1),
                    completion_window=Duration.hours(4),
                )
            ],
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(SERVICE_POLICY)],
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{SERVICE_POLICY}]",
            "The AWS Backup service role uses AWSBackupServiceRolePolicyForBackup, the policy AWS documents and "
            "keeps current for backup jobs; only backup.amazonaws.com can assume this role.",
        )
        self.selection = self.plan.add_selection(
            "Tables",
            backup_selection_name=config.name("tables"),
            resources=[backup.BackupResource.from_dynamo_db_table(table) for table in tables.values()],
            role=role,
            disable_default_backup_policy=True,
        )
        self.selected = dict(tables)
