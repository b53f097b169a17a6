"""The stack's fixed physical names, read off the synthesized template, and a look-up for each.

A first deploy fails when any of them is taken; deriving them from the template (resolved for the
account and region, `devstack.iam.template.Resolver`) keeps this list equal to what CloudFormation
will create, whatever the prefix or a future construct adds. Names CloudFormation generates, and
names that depend on a resource not yet created (the API's execution log group), are not listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from devstack.iam.template import Bindings, Resolver
from devstack.preflight.calls import Clients, Unknown, call, exists

# CloudFormation type -> (what to call it, the property holding its name)
NAMED: Final = {
    "AWS::DynamoDB::Table": ("table", "TableName"),
    "AWS::S3::Bucket": ("bucket", "BucketName"),
    "AWS::Lambda::Function": ("function", "FunctionName"),
    "AWS::Logs::LogGroup": ("log group", "LogGroupName"),
    "AWS::Backup::BackupVault": ("backup vault", "BackupVaultName"),
    "AWS::SQS::Queue": ("queue", "QueueName"),
    "AWS::SNS::Topic": ("topic", "TopicName"),
    "AWS::KMS::Alias": ("key alias", "AliasName"),
    "AWS::IAM::Role": ("role", "RoleName"),
    "AWS::StepFunctions::StateMachine": ("state machine", "StateMachineName"),
    "AWS::Events::Rule": ("rule", "Name"),
    "AWS::CloudWatch::Dashboard": ("dashboard", "DashboardName"),
    "AWS::CloudTrail::Trail": ("trail", "TrailName"),
    "AWS::Cognito::UserPoolDomain": ("user pool domain", "Domain"),
    "AWS::WAFv2::WebACL": ("web ACL", "Name"),
}


@dataclass(frozen=True)
class Named:
    kind: str  # CloudFormation type
    name: str

    @property
    def label(self) -> str:
        return f"{NAMED[self.kind][0]} {self.name}"


def fixed_names(template: Mapping[str, Any], account: str, region: str) -> list[Named]:
    resolver = Resolver(template, Bindings(account, region))
    found = []
    for resource in template["Resources"].values():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind in NAMED and NAMED[kind][1] in props:
            name = str(resolver.resolve(props[NAMED[kind][1]]))
            if "unresolved:" not in name:
                found.append(Named(kind, name))
    return found


def taken(clients: Clients, named: Named, account: str, region: str) -> bool:
    """Whether the name is in use in this account and region (or, for a bucket, anywhere)."""
    c, name = clients, named.name
    arn = f"arn:aws:{{}}:{region}:{account}:{{}}"
    reads: dict[str, tuple[str, Callable[[], Any]]] = {
        "AWS::DynamoDB::Table": ("dynamodb:DescribeTable", lambda: c("dynamodb").describe_table(TableName=name)),
        "AWS::Lambda::Function": ("lambda:GetFunction", lambda: c("lambda").get_function(FunctionName=name)),
        "AWS::Backup::BackupVault": (
            "backup:DescribeBackupVault",
            lambda: c("backup").describe_backup_vault(BackupVaultName=name),
        ),
        "AWS::SQS::Queue": ("sqs:GetQueueUrl", lambda: c("sqs").get_queue_url(QueueName=name)),
        "AWS::SNS::Topic": (
            "sns:GetTopicAttributes",
            lambda: c("sns").get_topic_attributes(TopicArn=arn.format("sns", name)),
        ),
        "AWS::KMS::Alias": ("kms:DescribeKey", lambda: c("kms").describe_key(KeyId=name)),
        "AWS::IAM::Role": ("iam:GetRole", lambda: c("iam").get_role(RoleName=name)),
        "AWS::StepFunctions::StateMachine": (
            "states:DescribeStateMachine",
            lambda: c("stepfunctions").describe_state_machine(
                stateMachineArn=arn.format("states", f"stateMachine:{name}")
            ),
        ),
        "AWS::Events::Rule": ("events:DescribeRule", lambda: c("events").describe_rule(Name=name)),
        "AWS::CloudWatch::Dashboard": (
            "cloudwatch:GetDashboard",
            lambda: c("cloudwatch").get_dashboard(DashboardName=name),
        ),
        "AWS::CloudTrail::Trail": ("cloudtrail:GetTrail", lambda: c("cloudtrail").get_trail(Name=name)),
    }
    if named.kind in reads:
        return exists(*reads[named.kind])
    if named.kind == "AWS::S3::Bucket":
        return _bucket_taken(c("s3"), name)
    if named.kind == "AWS::Logs::LogGroup":
        groups = call("logs:DescribeLogGroups", lambda: c("logs").describe_log_groups(logGroupNamePrefix=name))
        return any(group["logGroupName"] == name for group in groups["logGroups"])
    if named.kind == "AWS::Cognito::UserPoolDomain":
        domain = call(
            "cognito-idp:DescribeUserPoolDomain", lambda: c("cognito-idp").describe_user_pool_domain(Domain=name)
        )
        return bool(domain.get("DomainDescription", {}).get("UserPoolId"))
    if named.kind == "AWS::WAFv2::WebACL":
        acls = call("wafv2:ListWebACLs", lambda: c("wafv2").list_web_acls(Scope="REGIONAL"))
        return any(acl["Name"] == name for acl in acls["WebACLs"])
    raise Unknown(f"no look-up for {named.kind}")


def _bucket_taken(s3: Any, name: str) -> bool:
    """Bucket names are global: 403 means another account holds the name, as taken as our own."""
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "Forbidden"):
            return True
        raise Unknown(f"s3:HeadBucket: {code or error}") from None
    return True
