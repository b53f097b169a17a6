"""`custody preflight` (`make preflight`): what an account lacks before `cdk deploy`, read-only.

Each check reads the account with describe/get/list calls only and returns a `Check`: OK, FAIL
(the deploy would fail, or its alarms would reach nobody), WARN (it would work, at a cost or a
risk the engineer should know) or UNKNOWN (the check could not run: access denied, or the API
answered with an error; the reason is printed, never guessed over). Exit status 1 on any FAIL.

The settings are the deploy's own: `cdk.json`'s context with `-c key=value` overrides, read by
`infra.config.CustodyConfig`, so preflight checks exactly what `make deploy` would create.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from custody.declared import catalog, datamap, naming
from devstack.paths import REPO_ROOT

STACK_NAME: Final = "CrmCustody"
BOOTSTRAP_QUALIFIER: Final = "hnb659fds"  # CDK's default; `@aws-cdk/core:bootstrapQualifier` overrides it
MIN_BOOTSTRAP_VERSION: Final = 6  # the synthesized template's CheckBootstrapVersion rule refuses older
UNRESERVED_MINIMUM: Final = 100  # Lambda keeps this many units unreserved (PutFunctionConcurrency)
LOGS_POLICY_LIMIT: Final = 5120  # characters in one CloudWatch Logs resource policy
LOGS_POLICY_COUNT: Final = 10  # resource policies per account and region
TRAILS_PER_REGION: Final = 5
FAILED_CREATION: Final = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"})
DENIED: Final = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError")

Clients = Callable[[str], Any]


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "not checked"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


class Unknown(Exception):
    """A check that could not run; its message says why."""


def _call(what: str, call: Callable[[], Any]) -> Any:
    """Run one read; an error the check cannot interpret becomes Unknown with the API's words."""
    try:
        return call()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in DENIED:
            raise Unknown(f"not allowed to call {what} ({code})") from None
        raise
    except BotoCoreError as error:
        raise Unknown(f"{what}: {error}") from None


def _exists(what: str, call: Callable[[], Any], *missing: str) -> bool:
    """True when the read finds the resource, False when the API says it is not there."""
    try:
        _call(what, call)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in missing or status == 404:
            return False
        raise Unknown(f"{what}: {code or error}") from None
    return True


@dataclass(frozen=True)
class Target:
    """The deployment preflight looks at: the settings, and the account and region of the credentials."""

    prefix: str
    region: str
    account: str
    reserved: Mapping[str, int]
    alarm_email: str | None
    ses_from_email: str | None
    manage_api_gateway_account: bool
    multi_region_trail: bool
    qualifier: str = BOOTSTRAP_QUALIFIER

    def name(self, logical: str) -> str:
        return naming.function_name(self.prefix, logical)


class Preflight:
    def __init__(self, clients: Clients, target: Target) -> None:
        self.clients = clients
        self.target = target
        self.stack_status: str | None = None

    def run(self) -> list[Check]:
        checks = [
            self.stack,
            self.bootstrap,
            self.lambda_concurrency,
            self.logs_resource_policies,
            self.names_in_use,
            self.api_gateway_account,
            self.alarm_subscriber,
            self.email_sender,
            self.trails,
        ]
        found = []
        for check in checks:
            name = check.__name__.replace("_", " ")
            try:
                found.append(check())
            except Unknown as reason:
                found.append(Check(name, Status.UNKNOWN, str(reason)))
            except ClientError as error:
                found.append(Check(name, Status.UNKNOWN, f"the API answered {error}"))
        return found

    # --- the checks, each one read-only -------------------------------------------------------

    def stack(self) -> Check:
        cloudformation = self.clients("cloudformation")
        try:
            stacks = _call(
                "cloudformation:DescribeStacks", lambda: cloudformation.describe_stacks(StackName=STACK_NAME)
            )
        except ClientError as error:
            if "does not exist" in str(error):
                return Check("stack", Status.OK, f"no {STACK_NAME} stack yet: this is a first deploy")
            raise
        self.stack_status = str(stacks["Stacks"][0]["StackStatus"])
        if self.stack_status == "ROLLBACK_COMPLETE":
            return Check(
                "stack",
                Status.WARN,
                f"{STACK_NAME} is ROLLBACK_COMPLETE: its creation failed and rolled back; cdk deploy deletes it and "
                "creates it again",
            )
        if self.stack_status in FAILED_CREATION:
            return Check(
                "stack",
                Status.FAIL,
                f"{STACK_NAME} is {self.stack_status}: its creation failed and could not roll back",
                f"find the resource in its events, then aws cloudformation delete-stack --stack-name {STACK_NAME}",
            )
        return Check("stack", Status.OK, f"{STACK_NAME} exists ({self.stack_status}): this deploy updates it")

    def bootstrap(self) -> Check:
        parameter = f"/cdk-bootstrap/{self.target.qualifier}/version"
        ssm = self.clients("ssm")
        try:
            version = int(_call("ssm:GetParameter", lambda: ssm.get_parameter(Name=parameter))["Parameter"]["Value"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
            return Check(
                "bootstrap",
                Status.FAIL,
                f"the account is not bootstrapped for CDK in {self.target.region} ({parameter} is missing)",
                f"npx cdk bootstrap aws://{self.target.account}/{self.target.region}",
            )
        if version < MIN_BOOTSTRAP_VERSION:
            return Check(
                "bootstrap",
                Status.FAIL,
                f"bootstrap version {version}; the template needs {MIN_BOOTSTRAP_VERSION} or later",
                "npx cdk bootstrap (upgrades the bootstrap stack in place)",
            )
        role = f"cdk-{self.target.qualifier}-cfn-exec-role-{self.target.account}-{self.target.region}"
        iam = self.clients("iam")
        if not _exists("iam:GetRole", lambda: iam.get_role(RoleName=role), "NoSuchEntity"):
            return Check(
                "bootstrap",
                Status.FAIL,
                f"bootstrap version {version}, but its execution role {role} is missing: the tables' deletion guard "
                "lets only that role delete them, so a rolled-back creation could not clean up",
                "npx cdk bootstrap (recreates the role)",
            )
        return Check("bootstrap", Status.OK, f"bootstrap version {version}, execution role {role}")

    def lambda_concurrency(self) -> Check:
        settings = _call("lambda:GetAccountSettings", lambda: self.clients("lambda").get_account_settings())
        limit = int(settings["AccountLimit"]["ConcurrentExecutions"])
        unreserved = int(settings["AccountLimit"]["UnreservedConcurrentExecutions"])
        wanted = sum(self.target.reserved.values())
        left = unreserved - wanted
        detail = f"quota {limit}, unreserved {unreserved}, this stack reserves {wanted}"
        if wanted and left < UNRESERVED_MINIMUM:
            return Check(
                "lambda concurrency",
                Status.FAIL,
                f"{detail}: Lambda must keep {UNRESERVED_MINIMUM} unreserved, {left} would be left",
                "lower custody:reservedConcurrency, or raise the 'Concurrent executions' quota (L-B99A9384)",
            )
        if limit < 1000:
            return Check(
                "lambda concurrency",
                Status.WARN,
                f"{detail}: a new account's quota; every function shares it, so a burst on one throttles the others",
                "ask Service Quotas for 'Concurrent executions' (L-B99A9384) before production traffic",
            )
        return Check("lambda concurrency", Status.OK, detail)

    def logs_resource_policies(self) -> Check:
        logs = self.clients("logs")
        policies = _call("logs:DescribeResourcePolicies", lambda: logs.describe_resource_policies())["resourcePolicies"]
        largest = max((len(item.get("policyDocument", "")) for item in policies), default=0)
        detail = (
            f"{len(policies)} of {LOGS_POLICY_COUNT} resource policies, the largest {largest} of {LOGS_POLICY_LIMIT}"
        )
        if len(policies) >= LOGS_POLICY_COUNT:
            return Check(
                "logs resource policies",
                Status.WARN,
                f"{detail}: no service can add one; the stack's vended log groups need none",
            )
        return Check("logs resource policies", Status.OK, detail)

    def names_in_use(self) -> Check:
        if self.stack_status is not None and self.stack_status not in FAILED_CREATION:
            return Check("names in use", Status.OK, "the stack exists and owns its names")
        taken = [f"{kind} {name}" for kind, name, probe in self._named() if probe()]
        if taken:
            return Check(
                "names in use",
                Status.FAIL,
                "already in this account and region: " + ", ".join(taken),
                "delete them if they are leftovers of an earlier deployment (docs/deploy.md, tearing down), or set "
                "another custody:prefix",
            )
        return Check(
            "names in use", Status.OK, f"none of the stack's fixed names exists ({len(self._named())} looked up)"
        )

    def _named(self) -> list[tuple[str, str, Callable[[], bool]]]:
        t, c = self.target, self.clients
        tables = [store.name for store in datamap.table_stores()] + list(datamap.OPERATIONAL_TABLES)
        buckets = [store.name for store in datamap.bucket_stores()] + [naming.AUDIT_BUCKET, naming.ACCESS_LOG_BUCKET]
        qualifier = f"{t.account}-{t.region}"
        found: list[tuple[str, str, Callable[[], bool]]] = []
        for table in tables:
            name = naming.table_name(t.prefix, table)
            found.append(
                ("table", name, _probe("dynamodb:DescribeTable", c("dynamodb").describe_table, TableName=name))
            )
        for bucket in buckets:
            name = naming.bucket_name(t.prefix, bucket, qualifier)
            found.append(("bucket", name, _probe("s3:HeadBucket", c("s3").head_bucket, Bucket=name)))
        for function in catalog.FUNCTIONS:
            name = naming.function_name(t.prefix, function.name)
            found.append(("function", name, _probe("lambda:GetFunction", c("lambda").get_function, FunctionName=name)))
        for group in (f"aws-waf-logs-{t.prefix}", f"/aws/vendedlogs/states/{t.name(naming.ERASURE_STATE_MACHINE)}"):
            found.append(("log group", group, _log_group(c("logs"), group)))
        vault = t.name("vault")
        found.append(
            (
                "backup vault",
                vault,
                _probe("backup:DescribeBackupVault", c("backup").describe_backup_vault, BackupVaultName=vault),
            )
        )
        queue = naming.queue_name(t.prefix, naming.PROCESSOR_NOTIFICATIONS)
        found.append(("queue", queue, _probe("sqs:GetQueueUrl", c("sqs").get_queue_url, QueueName=queue)))
        for alias in ("data", "audit", "operations", naming.PROCESSOR_SEAL_KEY):
            name = f"alias/{t.name(alias)}"
            found.append(("key alias", name, _probe("kms:DescribeKey", c("kms").describe_key, KeyId=name)))
        role = f"{t.name('auditor')}-{t.region}"
        found.append(("role", role, _probe("iam:GetRole", c("iam").get_role, RoleName=role)))
        return found

    def api_gateway_account(self) -> Check:
        account = _call("apigateway:GetAccount", lambda: self.clients("apigateway").get_account())
        role = account.get("cloudwatchRoleArn")
        if role and self.target.manage_api_gateway_account:
            return Check(
                "api gateway account",
                Status.WARN,
                f"the region's API Gateway CloudWatch role is already {role}; the stack will set its own (AWS's "
                "AmazonAPIGatewayPushToCloudWatchLogs policy, kept when the stack goes)",
                "if another stack manages that setting, deploy with -c custody:manageApiGatewayAccount=false",
            )
        if not role and not self.target.manage_api_gateway_account:
            return Check(
                "api gateway account",
                Status.FAIL,
                "no API Gateway CloudWatch role is set in this region and the stack will not set one: the stage's "
                "execution logging would be refused",
                "deploy with -c custody:manageApiGatewayAccount=true",
            )
        return Check("api gateway account", Status.OK, f"CloudWatch role: {role or 'set by this stack'}")

    def alarm_subscriber(self) -> Check:
        if not self.target.alarm_email:
            return Check(
                "alarm subscriber",
                Status.FAIL,
                "custody:alarmEmail is not set: every alarm (failed erasures, the SLA, dead letters) reaches nobody",
                "deploy with -c custody:alarmEmail=oncall@example.com, then confirm the subscription e-mail",
            )
        if self.stack_status is None:
            return Check(
                "alarm subscriber", Status.OK, f"{self.target.alarm_email} will be subscribed; confirm its e-mail"
            )
        topic = f"arn:aws:sns:{self.target.region}:{self.target.account}:{self.target.name(naming.ALARM_TOPIC)}"
        sns = self.clients("sns")
        subscriptions = _call("sns:ListSubscriptionsByTopic", lambda: sns.list_subscriptions_by_topic(TopicArn=topic))[
            "Subscriptions"
        ]
        confirmed = [item for item in subscriptions if item.get("SubscriptionArn", "").startswith("arn:")]
        if not confirmed:
            return Check(
                "alarm subscriber",
                Status.FAIL,
                f"no confirmed subscription on {topic}",
                f"confirm the e-mail AWS sent to {self.target.alarm_email} (or subscribe a paging endpoint)",
            )
        return Check("alarm subscriber", Status.OK, f"{len(confirmed)} confirmed subscription(s)")

    def email_sender(self) -> Check:
        sender = self.target.ses_from_email
        if not sender:
            return Check(
                "email sender",
                Status.WARN,
                "the user pools use Cognito's default sender, which sends only a few messages a day",
                "before production sign-ups, set custody:sesFromEmail to an SES-verified address",
            )
        ses = self.clients("sesv2")
        account = _call("sesv2:GetAccount", lambda: ses.get_account())
        identity = _call("sesv2:GetEmailIdentity", lambda: ses.get_email_identity(EmailIdentity=sender))
        problems = []
        if not identity.get("VerifiedForSendingStatus"):
            problems.append(f"{sender} is not verified for sending")
        if not account.get("SendingEnabled", True):
            problems.append("sending is paused for this account")
        if not account.get("ProductionAccessEnabled"):
            problems.append("the account is in the SES sandbox (mail only to verified addresses)")
        if problems:
            return Check(
                "email sender",
                Status.FAIL,
                "; ".join(problems),
                "verify the identity and request production access in SES",
            )
        return Check("email sender", Status.OK, f"SES sends as {sender}, production access")

    def trails(self) -> Check:
        cloudtrail = self.clients("cloudtrail")
        trails = _call("cloudtrail:DescribeTrails", lambda: cloudtrail.describe_trails(includeShadowTrails=True))
        here = [item for item in trails["trailList"] if item.get("HomeRegion") == self.target.region]
        others = [item["Name"] for item in trails["trailList"] if item.get("IsMultiRegionTrail")]
        if len(here) >= TRAILS_PER_REGION and self.stack_status is None:
            return Check(
                "trails", Status.FAIL, f"{len(here)} trails in {self.target.region}: the quota is {TRAILS_PER_REGION}"
            )
        if others and self.target.multi_region_trail:
            return Check(
                "trails",
                Status.WARN,
                f"multi-region trails already record management events ({', '.join(sorted(others))}): the stack's "
                "trail is a second copy, charged per event",
                "a second regional deployment of this stack sets -c custody:multiRegionTrail=false",
            )
        return Check("trails", Status.OK, f"{len(here)} trail(s) in the region")


def _probe(what: str, method: Callable[..., Any], **arguments: str) -> Callable[[], bool]:
    """A look-up of one name: True when it exists, False when the API says it does not."""
    missing = (
        "ResourceNotFoundException",
        "NoSuchBucket",
        "404",
        "NotFound",
        "NoSuchEntity",
        "NotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    )
    return lambda: _exists(what, lambda: method(**arguments), *missing)


def _log_group(logs: Any, name: str) -> Callable[[], bool]:
    def probe() -> bool:
        groups = _call("logs:DescribeLogGroups", lambda: logs.describe_log_groups(logGroupNamePrefix=name))
        return any(group["logGroupName"] == name for group in groups["logGroups"])

    return probe


# --- the command --------------------------------------------------------------------------------


def target_from_context(overrides: Iterable[str], account: str, region: str) -> Target:
    """The deploy's settings: cdk.json's context, then `key=value` overrides as `cdk -c` takes them."""
    from aws_cdk import App

    from infra.config import CustodyConfig

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    for item in overrides:
        key, _, value = item.partition("=")
        context[key] = value
    config = CustodyConfig.from_context(App(context=context).node)
    return Target(
        prefix=config.prefix,
        region=region,
        account=account,
        reserved=dict(config.reserved_concurrency or {}),
        alarm_email=config.alarm_email,
        ses_from_email=config.ses_from_email,
        manage_api_gateway_account=config.manage_api_gateway_account,
        multi_region_trail=config.multi_region_trail,
        qualifier=str(context.get("@aws-cdk/core:bootstrapQualifier") or BOOTSTRAP_QUALIFIER),
    )


def render(checks: Iterable[Check]) -> str:
    lines, counts = [], dict.fromkeys(Status, 0)
    for check in checks:
        counts[check.status] += 1
        lines.append(f"[{check.status.value:^11}] {check.name}: {check.detail}")
        if check.fix and check.status is not Status.OK:
            lines.append(f"{'':14}fix: {check.fix}")
    lines.append(
        f"{counts[Status.FAIL]} to fix, {counts[Status.WARN]} to know, {counts[Status.UNKNOWN]} not checked, "
        f"{counts[Status.OK]} ok"
    )
    return "\n".join(lines)


def cmd_preflight(args: argparse.Namespace) -> int:
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        print("custody preflight: no region (pass --region or set AWS_REGION)")
        return 2
    account = session.client("sts").get_caller_identity()["Account"]
    target = target_from_context(args.context, account, session.region_name)
    checks = Preflight(lambda service: session.client(service), target).run()  # type: ignore[call-overload]
    print(f"preflight of {STACK_NAME} in {account}/{session.region_name} (prefix {target.prefix})")
    print(render(checks))
    return 1 if any(check.status is Status.FAIL for check in checks) else 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    preflight = commands.add_parser("preflight", help="what this AWS account lacks before `make deploy` (read-only)")
    preflight.add_argument("--region", help="the region to deploy to (default: your AWS configuration's)")
    preflight.add_argument("--profile", help="an AWS CLI profile")
    preflight.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="a CDK context override, as for cdk"
    )
    preflight.set_defaults(handler=cmd_preflight)
