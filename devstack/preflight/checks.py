"""The preflight's checks: each reads the account (describe/get/list only) and returns a `Check`.

OK, FAIL (the deploy would fail, or its alarms would reach nobody), WARN (it would work, at a
cost or a risk the engineer should know) or UNKNOWN (the check could not run: access denied, or
the service's own error, which is quoted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.declared import naming
from devstack.preflight.calls import Check, Clients, Status, Unknown, answer_of, call, exists
from devstack.preflight.names import fixed_names, taken

STACK_NAME: Final = "CrmCustody"
BOOTSTRAP_QUALIFIER: Final = "hnb659fds"  # CDK's default; `@aws-cdk/core:bootstrapQualifier` overrides it
MIN_BOOTSTRAP_VERSION: Final = 6  # the synthesized template's CheckBootstrapVersion rule refuses older
UNRESERVED_MINIMUM: Final = 100  # Lambda keeps this many units unreserved (PutFunctionConcurrency)
LOGS_POLICY_LIMIT: Final = 5120  # characters in one CloudWatch Logs resource policy
LOGS_POLICY_COUNT: Final = 10  # resource policies per account and region
TRAILS_PER_REGION: Final = 5
FAILED_CREATION: Final = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"})


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
    # custody:noticeSender, else custody:sesFromEmail; None: the unverifiable placeholder (naming)
    notice_sender: str | None = None

    def name(self, logical: str) -> str:
        return naming.function_name(self.prefix, logical)


class Preflight:
    """All checks of one deployment: `run()` returns them in order, each one OK, WARN, FAIL or UNKNOWN."""

    def __init__(self, clients: Clients, target: Target, template: Mapping[str, Any]) -> None:
        self.clients = clients
        self.target = target
        self.template = template
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
            self.notice_sender,
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
                found.append(Check(name, Status.UNKNOWN, f"the API answered {answer_of(error)}"))
            except Exception as error:  # any other failure is reported as not checked, never passed over
                found.append(Check(name, Status.UNKNOWN, f"{type(error).__name__}: {error}"))
        return found

    # --- the checks, each one read-only -------------------------------------------------------

    def stack(self) -> Check:
        cloudformation = self.clients("cloudformation")
        try:
            stacks = call("cloudformation:DescribeStacks", lambda: cloudformation.describe_stacks(StackName=STACK_NAME))
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
            version = int(call("ssm:GetParameter", lambda: ssm.get_parameter(Name=parameter))["Parameter"]["Value"])
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
        if not exists("iam:GetRole", lambda: iam.get_role(RoleName=role)):
            return Check(
                "bootstrap",
                Status.FAIL,
                f"bootstrap version {version}, but its execution role {role} is missing: the tables' deletion guard "
                "lets only that role delete them, so a rolled-back creation could not clean up",
                "npx cdk bootstrap (recreates the role)",
            )
        return Check("bootstrap", Status.OK, f"bootstrap version {version}, execution role {role}")

    def lambda_concurrency(self) -> Check:
        settings = call("lambda:GetAccountSettings", lambda: self.clients("lambda").get_account_settings())
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
        policies = call("logs:DescribeResourcePolicies", lambda: logs.describe_resource_policies())["resourcePolicies"]
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
        names = fixed_names(self.template, self.target.account, self.target.region)
        used = [named.label for named in names if taken(self.clients, named, self.target.account, self.target.region)]
        if used:
            return Check(
                "names in use",
                Status.FAIL,
                "already in this account and region: " + ", ".join(used),
                "delete them if they are leftovers of an earlier deployment (docs/deploy.md, tearing down), or set "
                "another custody:prefix",
            )
        return Check("names in use", Status.OK, f"none of the stack's {len(names)} fixed names is taken")

    def api_gateway_account(self) -> Check:
        account = call("apigateway:GetAccount", lambda: self.clients("apigateway").get_account())
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
        subscriptions = call("sns:ListSubscriptionsByTopic", lambda: sns.list_subscriptions_by_topic(TopicArn=topic))[
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
        account = call("sesv2:GetAccount", lambda: ses.get_account())
        identity = call("sesv2:GetEmailIdentity", lambda: ses.get_email_identity(EmailIdentity=sender))
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

    def notice_sender(self) -> Check:
        """The address notices to customers go from (docs/deadlines.md): verified, as itself or its domain."""
        sender = self.target.notice_sender
        if not sender:
            return Check(
                "notice sender",
                Status.WARN,
                f"notices to customers go from {naming.DEFAULT_NOTICE_SENDER}, which nobody can verify: every one "
                "would fail (recorded on the request, NoticesFailed alarm)",
                "set custody:noticeSender (or custody:sesFromEmail) to an SES-verified address or domain",
            )
        ses = self.clients("sesv2")

        def identity_of(name: str) -> Callable[[], Any]:
            return lambda: ses.get_email_identity(EmailIdentity=name)

        for identity in naming.sender_identities(sender):
            try:
                found = call("sesv2:GetEmailIdentity", identity_of(identity))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "NotFoundException":
                    continue
                raise
            if found.get("VerifiedForSendingStatus"):
                return Check("notice sender", Status.OK, f"notices go from {sender} (verified as {identity})")
        return Check(
            "notice sender",
            Status.FAIL,
            f"neither {sender} nor its domain is a verified SES identity",
            "verify the address or its domain in SES (in this region) before customers make requests",
        )

    def trails(self) -> Check:
        cloudtrail = self.clients("cloudtrail")
        trails = call("cloudtrail:DescribeTrails", lambda: cloudtrail.describe_trails(includeShadowTrails=True))
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
