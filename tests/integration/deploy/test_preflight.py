"""`custody preflight` against moto: what it finds, what it fixes, and what it says it could not check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from custody.declared import naming
from devstack.preflight import (
    MIN_BOOTSTRAP_VERSION,
    Check,
    Preflight,
    Status,
    Target,
    deploy_context,
    render,
    target_from_context,
)
from devstack.preflight.names import Named, _bucket_taken, fixed_names
from ops import cli
from tests.synth import synthesis

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        yield lambda service: session.client(service)


def _target(**changes: Any) -> Target:
    values: dict[str, Any] = {
        "prefix": naming.DEFAULT_PREFIX,
        "region": REGION,
        "account": ACCOUNT,
        "reserved": {},
        "alarm_email": "oncall@example.com",
        "ses_from_email": None,
        "manage_api_gateway_account": True,
        "multi_region_trail": True,
    }
    return Target(**{**values, **changes})


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The template cdk.json's settings synthesize (the test session's one synthesis)."""
    loaded: dict[str, Any] = json.loads(synthesis().template_path.read_text())
    return loaded


def _preflight(clients: Any, template: dict[str, Any], **changes: Any) -> dict[str, Check]:
    return _by_name(Preflight(clients, _target(**changes), template).run())


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


class _Lambda:
    """GetAccountSettings as Lambda answers it (moto does not implement it)."""

    def __init__(self, limit: int, unreserved: int) -> None:
        self.limit, self.unreserved = limit, unreserved

    def get_account_settings(self) -> dict[str, Any]:
        return {"AccountLimit": {"ConcurrentExecutions": self.limit, "UnreservedConcurrentExecutions": self.unreserved}}


def _with_quota(clients: Any, limit: int = 1000, unreserved: int = 1000) -> Any:
    real = clients

    def make(service: str) -> Any:
        if service == "lambda":
            lambda_client = real("lambda")
            quota = _Lambda(limit, unreserved)
            return type(
                "Mixed",
                (),
                {"get_account_settings": quota.get_account_settings, "get_function": lambda_client.get_function},
            )()
        return real(service)

    return make


def _bootstrap(clients: Any, version: int = 29) -> None:
    clients("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value=str(version), Type="String")
    clients("iam").create_role(
        RoleName=f"cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{REGION}", AssumeRolePolicyDocument="{}"
    )


def test_a_fresh_account_lacks_the_bootstrap_and_nothing_else_blocks(aws: Any, template: dict[str, Any]) -> None:
    checks = _preflight(_with_quota(aws, 10, 10), template)
    assert checks["bootstrap"].status is Status.FAIL
    assert "cdk bootstrap" in checks["bootstrap"].fix
    assert checks["stack"].status is Status.OK
    assert checks["names in use"].status is Status.OK
    assert checks["lambda concurrency"].status is Status.WARN  # a new account's quota, and no reservation
    assert checks["email sender"].status is Status.WARN  # Cognito's default sender
    assert checks["notice sender"].status is Status.WARN  # the placeholder nobody can verify


def test_a_bootstrapped_account_passes_what_it_can_check(aws: Any, template: dict[str, Any]) -> None:
    _bootstrap(aws)
    checks = Preflight(_with_quota(aws), _target(), template).run()
    assert not [check for check in checks if check.status is Status.FAIL], render(checks)
    assert _by_name(checks)["lambda concurrency"].status is Status.OK


def test_an_old_bootstrap_is_refused(aws: Any, template: dict[str, Any]) -> None:
    _bootstrap(aws, version=MIN_BOOTSTRAP_VERSION - 1)
    assert _preflight(aws, template)["bootstrap"].status is Status.FAIL


def test_reservations_the_quota_cannot_spare_fail(aws: Any, template: dict[str, Any]) -> None:
    reserved = {"erasure_steps": 20, "collect": 20}  # 40 of a new account's 50
    check = _preflight(_with_quota(aws, 50, 50), template, reserved=reserved)["lambda concurrency"]
    assert check.status is Status.FAIL
    assert "L-B99A9384" in check.fix


def test_leftovers_with_the_stacks_names_are_named(aws: Any, template: dict[str, Any]) -> None:
    _bootstrap(aws)
    table = naming.table_name(naming.DEFAULT_PREFIX, "profiles")
    aws("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "subject_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "subject_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    bucket = naming.bucket_name(naming.DEFAULT_PREFIX, naming.AUDIT_BUCKET, f"{ACCOUNT}-{REGION}")
    aws("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    aws("logs").create_log_group(logGroupName=f"aws-waf-logs-{naming.DEFAULT_PREFIX}")
    check = _preflight(aws, template)["names in use"]
    assert check.status is Status.FAIL
    for name in (table, bucket, f"aws-waf-logs-{naming.DEFAULT_PREFIX}"):
        assert name in check.detail


def test_no_alarm_address_is_a_failure_to_fix(aws: Any, template: dict[str, Any]) -> None:
    check = _preflight(aws, template, alarm_email=None)["alarm subscriber"]
    assert check.status is Status.FAIL
    assert "custody:alarmEmail" in check.fix


def test_an_existing_api_gateway_role_is_reported_before_it_is_replaced(aws: Any, template: dict[str, Any]) -> None:
    role = aws("iam").create_role(RoleName="theirs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws("apigateway").update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    checks = _preflight(aws, template)
    assert checks["api gateway account"].status in (Status.WARN, Status.UNKNOWN)
    if checks["api gateway account"].status is Status.WARN:
        assert "manageApiGatewayAccount=false" in checks["api gateway account"].fix


def test_moto_lacking_an_api_is_reported_as_not_checked(aws: Any, template: dict[str, Any]) -> None:
    check = _preflight(aws, template)["lambda concurrency"]
    assert check.status is Status.UNKNOWN  # moto has no GetAccountSettings: said, not guessed
    assert "GetAccountSettings" in check.detail


def test_what_cannot_be_read_is_said_not_guessed(aws: Any, template: dict[str, Any]) -> None:
    def denied(service: str) -> Any:
        client = aws(service)
        if service == "lambda":

            class Refusing:
                def get_account_settings(self) -> Any:
                    from botocore.exceptions import ClientError

                    raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetAccountSettings")

                def __getattr__(self, name: str) -> Any:
                    return getattr(client, name)

            return Refusing()
        return client

    check = _preflight(denied, template)["lambda concurrency"]
    assert check.status is Status.UNKNOWN
    assert "lambda:GetAccountSettings" in check.detail
    assert "not checked" in render([check])


def test_the_settings_are_the_deploys_own() -> None:
    context = deploy_context(['custody:reservedConcurrency={"erasure_steps": 5}', "custody:alarmEmail=a@example.com"])
    target = target_from_context(context, ACCOUNT, REGION)
    assert (target.reserved, target.alarm_email, target.prefix) == (
        {"erasure_steps": 5},
        "a@example.com",
        "crm-custody",
    )


def test_the_command_exits_nonzero_on_a_failure(
    aws: Any, template: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("devstack.preflight.command.synthesize", lambda context: template)
    assert cli.main(["preflight", "--region", REGION], configure_logging=False) == 1
    out = capsys.readouterr().out
    assert "bootstrap" in out
    assert "to fix" in out


def test_a_bucket_name_another_account_holds_is_taken_too() -> None:
    from botocore.exceptions import ClientError

    class Answering:
        def __init__(self, code: str) -> None:
            self.code = code

        def head_bucket(self, Bucket: str) -> None:  # noqa: N803 - boto3's parameter name
            raise ClientError({"Error": {"Code": self.code}}, "HeadBucket")

    assert _bucket_taken(Answering("403"), "theirs") is True
    assert _bucket_taken(Answering("404"), "free") is False


def test_the_fixed_names_are_the_templates(template: dict[str, Any]) -> None:
    names = {named.name for named in fixed_names(template, ACCOUNT, REGION)}
    assert naming.table_name(naming.DEFAULT_PREFIX, "profiles") in names
    assert naming.bucket_name(naming.DEFAULT_PREFIX, naming.AUDIT_BUCKET, f"{ACCOUNT}-{REGION}") in names
    assert f"{naming.DEFAULT_PREFIX}-auditor-{REGION}" in names
    assert f"/aws/vendedlogs/states/{naming.DEFAULT_PREFIX}-erasure" in names
    assert not any("unresolved" in name for name in names)
    assert Named("AWS::DynamoDB::Table", "t").label == "table t"


class _Ses:
    """SES v2 as it answers an account still in the sandbox (moto implements neither call)."""

    def get_account(self) -> dict[str, Any]:
        return {"SendingEnabled": True, "ProductionAccessEnabled": False}

    def get_email_identity(self, EmailIdentity: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter name
        return {"VerifiedForSendingStatus": True}


def test_an_ses_sender_in_the_sandbox_fails_and_moto_says_what_it_lacks(aws: Any, template: dict[str, Any]) -> None:
    sender = "no-reply@example.com"
    check = _preflight(aws, template, ses_from_email=sender)["email sender"]
    assert check.status is Status.UNKNOWN  # moto: GetAccount is not implemented, and preflight says so
    assert "get_account" in check.detail
    with_ses = _preflight(
        lambda service: _Ses() if service == "sesv2" else aws(service), template, ses_from_email=sender
    )
    assert with_ses["email sender"].status is Status.FAIL
    assert "sandbox" in with_ses["email sender"].detail


def test_the_notice_sender_must_be_verified_as_itself_or_its_domain(aws: Any, template: dict[str, Any]) -> None:
    class Identities:
        def __init__(self, verified: set[str]) -> None:
            self.verified = verified

        def get_email_identity(self, EmailIdentity: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter name
            if EmailIdentity not in self.verified:
                raise ClientError({"Error": {"Code": "NotFoundException"}}, "GetEmailIdentity")
            return {"VerifiedForSendingStatus": True}

    def with_identities(verified: set[str]) -> Check:
        clients = lambda service: Identities(verified) if service == "sesv2" else aws(service)  # noqa: E731
        return _preflight(clients, template, notice_sender="privacy@shop.example")["notice sender"]

    assert with_identities({"shop.example"}).status is Status.OK  # its domain
    assert with_identities({"privacy@shop.example"}).status is Status.OK
    refused = with_identities({"other.example"})
    assert refused.status is Status.FAIL
    assert "privacy@shop.example" in refused.detail


@pytest.mark.parametrize(
    ("arguments", "environment", "said"),
    [
        ([], {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None}, "credentials"),
        (["--profile", "no-such-profile"], {}, "no-such-profile"),
        (["-c", "custody:prefix=a-prefix-far-too-long-for-names"], {}, "custody:prefix"),
        (["-c", "custody:prefix=Bad_Prefix"], {}, "custody:prefix"),
    ],
    ids=["no credentials", "unknown profile", "prefix too long", "prefix with bad characters"],
)
def test_what_stops_preflight_from_running_is_one_line_and_exit_2(
    aws: Any,
    arguments: list[str],
    environment: dict[str, str | None],
    said: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """1 means the deploy would fail; a preflight that cannot run says why in one line (found by a fresh break)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr("devstack.preflight.command.synthesize", lambda context: pytest.fail("synthesized"))
    assert cli.main(["preflight", "--region", REGION, *arguments], configure_logging=False) == 2
    captured = capsys.readouterr()
    assert said in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
