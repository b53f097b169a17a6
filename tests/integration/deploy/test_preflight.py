"""`custody preflight` against moto: what it finds, what it fixes, and what it says it could not check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from custody.declared import naming
from devstack import cli
from devstack.preflight import MIN_BOOTSTRAP_VERSION, Check, Preflight, Status, Target, render, target_from_context

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


def test_a_fresh_account_lacks_the_bootstrap_and_nothing_else_blocks(aws: Any) -> None:
    checks = _by_name(Preflight(_with_quota(aws, 10, 10), _target()).run())
    assert checks["bootstrap"].status is Status.FAIL
    assert "cdk bootstrap" in checks["bootstrap"].fix
    assert checks["stack"].status is Status.OK
    assert checks["names in use"].status is Status.OK
    assert checks["lambda concurrency"].status is Status.WARN  # a new account's quota, and no reservation
    assert checks["email sender"].status is Status.WARN  # Cognito's default sender


def test_a_bootstrapped_account_passes_what_it_can_check(aws: Any) -> None:
    _bootstrap(aws)
    checks = Preflight(_with_quota(aws), _target()).run()
    assert not [check for check in checks if check.status is Status.FAIL], render(checks)
    assert _by_name(checks)["lambda concurrency"].status is Status.OK


def test_an_old_bootstrap_is_refused(aws: Any) -> None:
    _bootstrap(aws, version=MIN_BOOTSTRAP_VERSION - 1)
    assert _by_name(Preflight(aws, _target()).run())["bootstrap"].status is Status.FAIL


def test_reservations_the_quota_cannot_spare_fail(aws: Any) -> None:
    target = _target(reserved={"erasure_steps": 20, "collect": 20})  # 40 of a new account's 50
    check = _by_name(Preflight(_with_quota(aws, 50, 50), target).run())["lambda concurrency"]
    assert check.status is Status.FAIL
    assert "L-B99A9384" in check.fix


def test_leftovers_with_the_stacks_names_are_named(aws: Any) -> None:
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
    check = _by_name(Preflight(aws, _target()).run())["names in use"]
    assert check.status is Status.FAIL
    for name in (table, bucket, f"aws-waf-logs-{naming.DEFAULT_PREFIX}"):
        assert name in check.detail


def test_no_alarm_address_is_a_failure_to_fix(aws: Any) -> None:
    check = _by_name(Preflight(aws, _target(alarm_email=None)).run())["alarm subscriber"]
    assert check.status is Status.FAIL
    assert "custody:alarmEmail" in check.fix


def test_an_existing_api_gateway_role_is_reported_before_it_is_replaced(aws: Any) -> None:
    role = aws("iam").create_role(RoleName="theirs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws("apigateway").update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    checks = _by_name(Preflight(aws, _target()).run())
    assert checks["api gateway account"].status in (Status.WARN, Status.UNKNOWN)
    if checks["api gateway account"].status is Status.WARN:
        assert "manageApiGatewayAccount=false" in checks["api gateway account"].fix


def test_moto_lacking_an_api_is_reported_as_not_checked(aws: Any) -> None:
    check = _by_name(Preflight(aws, _target()).run())["lambda concurrency"]
    assert check.status is Status.UNKNOWN  # moto has no GetAccountSettings: said, not guessed
    assert "GetAccountSettings" in check.detail


def test_what_cannot_be_read_is_said_not_guessed(aws: Any) -> None:
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

    check = _by_name(Preflight(denied, _target()).run())["lambda concurrency"]
    assert check.status is Status.UNKNOWN
    assert "lambda:GetAccountSettings" in check.detail
    assert "not checked" in render([check])


def test_the_settings_are_the_deploys_own() -> None:
    target = target_from_context(
        ['custody:reservedConcurrency={"erasure_steps": 5}', "custody:alarmEmail=a@example.com"], ACCOUNT, REGION
    )
    assert (target.reserved, target.alarm_email, target.prefix) == (
        {"erasure_steps": 5},
        "a@example.com",
        "crm-custody",
    )


def test_the_command_exits_nonzero_on_a_failure(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["preflight", "--region", REGION], configure_logging=False) == 1
    out = capsys.readouterr().out
    assert "bootstrap" in out
    assert "to fix" in out
