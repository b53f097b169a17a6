"""Log groups: always encrypted with a customer-managed key, always with a retention period."""

from __future__ import annotations

from typing import cast

from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import retention_days
from infra.constructs.lifecycle import KEEP


def encrypted_log_group(
    scope: Construct, construct_id: str, *, key: kms.IKey, days: int, name: str | None = None
) -> logs.LogGroup:
    group = logs.LogGroup(scope, construct_id, log_group_name=name, encryption_key=key, removal_policy=KEEP)
    # RetentionDays names periods (ONE_YEAR); CloudFormation takes the day count the config holds.
    cast(logs.CfnLogGroup, group.node.default_child).retention_in_days = retention_days(days)
    return group
