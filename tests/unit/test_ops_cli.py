"""The `custody` command of ops: its plugins, and one clear line instead of a traceback when a command
cannot run — no credentials, no region, access denied, no such resource, no local stack running.

Everything here runs in this process without a stack: AWS failures are provoked before any
request leaves (no credentials) or answered by botocore's Stubber.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import exceptions as boto
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from custody.declared.settings import ENV_PREFIX, Settings, get_settings
from custody.platform import aws
from devstack import paths
from ops import cli, plugins, stack_file, target
from ops.failures import NO_CREDENTIALS, NO_REGION, describe

REQUEST_ID = "3f0c1a52-7d5e-4c7e-9a49-0b6f7d1f5a10"

# Every ops command, as an operator types it (without --local).
COMMANDS: list[list[str]] = [
    ["audit", "show", REQUEST_ID],
    ["audit", "verify", REQUEST_ID],
    ["audit", "verify", "--all"],
    ["audit", "report", REQUEST_ID, "--html", "report.html"],
    ["erasure", "rerun", REQUEST_ID],
    ["restore-guard", "--table", "crm-custody-profiles-restored", "--store", "profiles"],
    ["retention", "plan"],
    ["retention", "register"],
    ["retention", "sweep"],
    ["ropa"],
    ["requests", "due"],
    ["requests", "register"],
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv, configure_logging=False)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A process with no AWS credentials and no AWS configuration at all (no region either)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        f"{ENV_PREFIX}REGION",
        f"{ENV_PREFIX}ERASURE_STATE_MACHINE_ARN",
        f"{ENV_PREFIX}BUCKET_QUALIFIER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()  # nothing built without credentials outlives the test
    aws.reset_clients()


# --- the plugin mechanism ---------------------------------------------------------------------


def test_devstack_adds_its_commands_through_the_entry_point_group() -> None:
    loaded = plugins.load()
    assert [plugin.name for plugin in loaded] == ["devstack"]
    choices = _commands(cli.build_parser(loaded))
    assert {"local", "openapi"} <= choices
    assert {"audit", "erasure", "restore-guard", "retention", "requests", "ropa"} <= choices


def test_without_plugins_the_local_commands_are_simply_absent(capsys: pytest.CaptureFixture[str]) -> None:
    assert _commands(cli.build_parser([])) == {"audit", "erasure", "restore-guard", "retention", "requests", "ropa"}
    with pytest.raises(SystemExit) as exited:
        cli.build_parser([]).parse_args(["local", "up"])
    assert exited.value.code == 2
    assert "invalid choice: 'local'" in capsys.readouterr().err


def test_a_plugin_that_fails_to_load_is_left_out_with_a_line_saying_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = EntryPoint("broken", "no_such_module_anywhere", plugins.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [broken])
    assert plugins.load() == []
    assert "custody: the broken commands are unavailable: ModuleNotFoundError" in capsys.readouterr().err


def test_the_ops_commands_load_no_emulator() -> None:
    """Building the whole parser, plugins included, imports neither devstack's stack nor moto."""
    probe = (
        "import sys; from ops import cli, plugins; cli.build_parser(plugins.load()); "
        "print([name for name in sys.modules if name.split('.')[0] in ('moto', 'werkzeug')"
        " or name in ('devstack.stack', 'devstack.server', 'devstack.gateway')])"
    )
    found = subprocess.run(  # noqa: S603 - this interpreter on a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    (subparsers,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return set(subparsers.choices)


# --- no credentials, no region, no local stack -------------------------------------------------


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_without_credentials_each_command_says_so_in_one_line(
    argv: list[str], no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_aws.setenv("AWS_REGION", "eu-west-1")
    status, out, err = _run(argv, capsys)
    assert (status, out, err) == (2, "", f"custody: {NO_CREDENTIALS}\n")


def test_without_credentials_even_when_no_account_lookup_is_needed(
    no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the ARN and bucket suffix given, the first AWS call is the command's own."""
    no_aws.setenv("AWS_REGION", "eu-west-1")
    no_aws.setenv(f"{ENV_PREFIX}ERASURE_STATE_MACHINE_ARN", "arn:aws:states:eu-west-1:1:stateMachine:m")
    no_aws.setenv(f"{ENV_PREFIX}BUCKET_QUALIFIER", "1-eu-west-1")
    for argv in (["audit", "show", REQUEST_ID], ["erasure", "rerun", REQUEST_ID], ["retention", "register"]):
        assert _run(argv, capsys) == (2, "", f"custody: {NO_CREDENTIALS}\n")


def test_without_a_region_each_command_says_so(no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in COMMANDS:
        assert _run(argv, capsys) == (2, "", f"custody: {NO_REGION}\n")


def test_a_missing_profile_is_named(no_aws: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    no_aws.setenv("AWS_PROFILE", "auditor")
    status, _, err = _run(["audit", "show", REQUEST_ID], capsys)
    assert status == 2
    assert err == "custody: your AWS configuration is incomplete: The config profile (auditor) could not be found\n"


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_with_local_and_no_stack_running_each_command_says_how_to_start_one(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run([*argv, "--local", "--state-dir", str(tmp_path)], capsys)
    assert (status, out) == (2, "")
    assert err == f"custody: {stack_file.NOT_RUNNING}; {tmp_path}/stack.json does not exist\n"


def test_a_stale_or_unreadable_stack_file_is_no_stack(tmp_path: Path) -> None:
    path = tmp_path / stack_file.STACK_FILE_NAME
    path.write_text(json.dumps({"aws_endpoint_url": "http://127.0.0.1:9", "region": "us-east-1",
                                "resources": {"environment": {}}}))  # fmt: skip
    with pytest.raises(stack_file.NoLocalStack, match=r"nothing answers at http://127\.0\.0\.1:9 \(.* is stale\)"):
        stack_file.read(tmp_path)
    path.write_text("{")
    with pytest.raises(stack_file.NoLocalStack, match="is unreadable"):
        stack_file.read(tmp_path)


def test_ops_looks_for_the_stack_file_where_devstack_writes_it() -> None:
    assert (stack_file.DEFAULT_STATE_DIR, stack_file.STACK_FILE_NAME) == (
        paths.DEFAULT_STATE_DIR,
        paths.STACK_FILE_NAME,
    )


# --- refused or missing while the command runs ------------------------------------------------


def _stubbed_target(monkeypatch: pytest.MonkeyPatch, program: Callable[[dict[str, Stubber]], None]) -> None:
    """Resolve every command to clients whose answers `program` sets (botocore's Stubber)."""
    made: dict[str, Any] = {}
    stubbers: dict[str, Stubber] = {}
    for service in ("s3", "stepfunctions", "dynamodb"):
        made[service] = boto3.client(
            service, region_name="eu-west-1", aws_access_key_id="stub", aws_secret_access_key="stub"
        )
        stubbers[service] = Stubber(made[service])
    program(stubbers)
    for stubber in stubbers.values():
        stubber.activate()
    settings = Settings(region="eu-west-1", bucket_qualifier="111122223333-eu-west-1")
    place = target.Target(settings, made.__getitem__, "AWS account 111122223333 (eu-west-1)", target.AWS_HINT)
    monkeypatch.setattr(target, "resolve", lambda args: place)


@pytest.mark.parametrize(
    ("argv", "service", "operation", "code", "message", "said"),
    [
        pytest.param(
            ["audit", "show", REQUEST_ID],
            "s3",
            "list_object_versions",
            "AccessDenied",
            "User: arn:aws:sts::111122223333:assumed-role/x is not authorized",
            "access denied to ListObjectVersions in AWS account 111122223333 (eu-west-1): "
            "User: arn:aws:sts::111122223333:assumed-role/x is not authorized",
            id="access denied",
        ),
        pytest.param(
            ["audit", "verify", "--all"],
            "s3",
            "list_object_versions",
            "NoSuchBucket",
            "The specified bucket does not exist",
            "ListObjectVersions: The specified bucket does not exist in AWS account 111122223333 (eu-west-1) "
            "(check the region and CUSTODY_RESOURCE_PREFIX)",
            id="no bucket",
        ),
        pytest.param(
            ["restore-guard", "--table", "nope", "--store", "profiles"],
            "dynamodb",
            "describe_table",
            "ResourceNotFoundException",
            "Requested resource not found",
            "no table nope in AWS account 111122223333 (eu-west-1)",
            id="no table",
        ),
    ],
)
def test_a_refused_or_missing_resource_is_one_line_naming_it(
    argv: list[str],
    service: str,
    operation: str,
    code: str,
    message: str,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stubbed_target(monkeypatch, lambda stub: stub[service].add_client_error(operation, code, message))
    assert _run(argv, capsys) == (2, "", f"custody: {said}\n")


def _client_error(code: str, message: str = "", **error: str) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message, **error}}
    return ClientError(response, "GetItem")


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (boto.NoCredentialsError(), NO_CREDENTIALS),
        (boto.NoRegionError(), NO_REGION),
        (boto.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), "is incomplete: Partial"),
        (boto.TokenRetrievalError(provider="sso", error_msg="expired"), "your AWS sign-in cannot be used"),
        (boto.EndpointConnectionError(endpoint_url="https://sts.eu-west-1.amazonaws.com/"), "cannot reach HERE:"),
        (_client_error("AccessDeniedException", "no\nway"), "access denied to GetItem in HERE: no way"),
        (_client_error("ExpiredTokenException"), "your AWS credentials have expired"),
        (_client_error("UnrecognizedClientException"), "AWS does not accept your credentials"),
        (_client_error("ResourceNotFoundException", "Requested resource not found"), "GetItem: Requested resource"),
        (_client_error("NoSuchBucket", "gone", BucketName="b"), "no bucket b in HERE (a hint)"),
        (_client_error("ThrottlingException", "slow down"), "GetItem failed in HERE: ThrottlingException: slow down"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_aws_failure_is_described_in_one_line(error: boto.BotoCoreError | ClientError, said: str) -> None:
    text = describe(error, "HERE", "a hint")
    assert said in text
    assert "\n" not in text


def test_a_sweep_in_another_time_is_refused_outside_the_local_stack() -> None:
    """`--now` in AWS would erase, for good, customers not yet inactive and records an obligation still keeps."""
    import argparse

    from ops.commands import retention
    from ops.failures import OperatorError

    args = argparse.Namespace(now="2037-01-02T00:00:00Z", local=False, batch=None, force_now=False)
    with pytest.raises(OperatorError, match="refused outside --local"):
        retention.cmd_sweep(args, None)  # type: ignore[arg-type]  # refused before the target is used
