"""Where an `ops` command acts: a deployed stack, with the caller's AWS credentials, or the running
local stack (`--local`), through its `stack.json`.

`resolve(args)` reads the flags every command has (`--local`, `--state-dir`, and `--role-arn`
where offered) and returns a `Target`: the `Settings` the library is given, the clients for the
command's own reads, and how to name the place in messages. The process-wide library clients
(`custody.platform.aws`) are pointed at the same place.

Against AWS: settings come from the `CUSTODY_*` variables; the region from CUSTODY_REGION,
AWS_REGION or the AWS configuration (`NO_REGION` without one); the erasure state machine's ARN
and the buckets' account-region suffix from the caller's account, unless
CUSTODY_ERASURE_STATE_MACHINE_ARN and CUSTODY_BUCKET_QUALIFIER say otherwise. `on_target(command)`
wraps a command so that botocore's failures end as one `OperatorError` line.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from custody.declared import naming
from custody.declared.settings import ENV_PREFIX, Settings, get_settings
from custody.platform import aws
from ops import stack_file
from ops.clients import ClientFactory, session_clients
from ops.failures import NO_REGION, OperatorError, describe

# moto's placeholder credentials: a developer's real ones must never reach the local stack.
PLACEHOLDER_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
CREDENTIAL_SOURCES: Final = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
AWS_HINT: Final = "check the region and CUSTODY_RESOURCE_PREFIX"
LOCAL_HINT: Final = "the local stack's data is gone when it stops"


@dataclass(frozen=True)
class Target:
    """Settings for the library, clients for the command's own reads, and the place in words."""

    settings: Settings
    clients: ClientFactory
    where: str  # "AWS account 123456789012 (eu-west-1)" or "the local stack at http://127.0.0.1:5000"
    hint: str  # what to check when something is not there


Command = Callable[[argparse.Namespace, Target], int]
Handler = Callable[[argparse.Namespace], int]


def add_target_flags(parser: argparse.ArgumentParser, *, verb: str = "act on") -> None:
    """`--local` and `--state-dir`: the flags `resolve` reads, on every command that acts somewhere."""
    parser.add_argument("--local", action="store_true", help=f"{verb} the running local stack, not AWS")
    parser.add_argument(
        "--state-dir", type=Path, default=stack_file.DEFAULT_STATE_DIR, help="the local stack's stack.json folder"
    )


def on_target(command: Command) -> Handler:
    """The handler argparse calls: resolve the target, run `command` on it, translate AWS failures."""

    def handler(args: argparse.Namespace) -> int:
        target = resolve(args)
        try:
            return command(args, target)
        except (BotoCoreError, ClientError) as error:
            raise OperatorError(describe(error, target.where, target.hint)) from None

    return handler


def resolve(args: argparse.Namespace) -> Target:
    """The target the flags name: `local(args.state_dir)` with `--local`, else `deployed(...)`."""
    if args.local:
        return local(args.state_dir)
    return deployed(role_arn=getattr(args, "role_arn", None))


def local(state_dir: Path) -> Target:
    """The running local stack described in `state_dir`; `NoLocalStack` when none is running."""
    stack = stack_file.read(state_dir)
    for name in CREDENTIAL_SOURCES:
        os.environ.pop(name, None)
    os.environ.update(PLACEHOLDER_CREDENTIALS)
    os.environ.update({"AWS_ENDPOINT_URL": stack.aws_endpoint_url, "AWS_REGION": stack.region})
    os.environ.update(stack.environment)
    session = boto3.session.Session(region_name=stack.region)
    where = f"the local stack at {stack.aws_endpoint_url}"
    return Target(_fresh_settings(), session_clients(session, stack.aws_endpoint_url), where, LOCAL_HINT)


def deployed(role_arn: str | None = None) -> Target:
    """The deployed stack, as the caller (or as `role_arn`, assumed first). The account is looked up
    (STS) once, unless CUSTODY_ERASURE_STATE_MACHINE_ARN and CUSTODY_BUCKET_QUALIFIER are both set.

    Raises `OperatorError`: no region configured, no or unusable credentials, the role refused.
    """
    region = _region()
    where = f"AWS ({region})"
    try:
        session = boto3.session.Session(region_name=region)
        if role_arn:
            session = _assumed(session, role_arn, region)
        settings = _fresh_settings()
        qualifier_given = f"{ENV_PREFIX}BUCKET_QUALIFIER" in os.environ
        if not settings.erasure_state_machine_arn or not settings.admission_queue_url or not qualifier_given:
            account = session.client("sts").get_caller_identity()["Account"]
            where = f"AWS account {account} ({region})"
            settings = _named_in(settings, account, keep_qualifier=qualifier_given)
    except (BotoCoreError, ClientError) as error:
        raise OperatorError(describe(error, where, AWS_HINT)) from None
    return Target(settings, session_clients(session), where, AWS_HINT)


def _named_in(settings: Settings, account: str, *, keep_qualifier: bool) -> Settings:
    """`settings` with the names that depend on the account filled in: the erasure state machine's
    ARN and the admission queue's URL (unless set) and the buckets' `<account>-<region>` suffix
    (unless `keep_qualifier`)."""
    updates: dict[str, str] = {}
    if not settings.erasure_state_machine_arn:
        name = naming.state_machine_name(settings.resource_prefix, naming.ERASURE_STATE_MACHINE)
        updates["erasure_state_machine_arn"] = f"arn:aws:states:{settings.region}:{account}:stateMachine:{name}"
    if not settings.admission_queue_url:
        name = naming.queue_name(settings.resource_prefix, naming.ERASURE_ADMISSIONS)
        updates["admission_queue_url"] = f"https://sqs.{settings.region}.amazonaws.com/{account}/{name}"
    if not keep_qualifier:
        updates["bucket_qualifier"] = f"{account}-{settings.region}"
    return settings.model_copy(update=updates)


def _region() -> str:
    """CUSTODY_REGION, AWS_REGION or the AWS configuration's region; exported as AWS_REGION so
    that `Settings` and the library's clients agree with it."""
    try:
        region = (
            os.environ.get(f"{ENV_PREFIX}REGION") or os.environ.get("AWS_REGION") or boto3.session.Session().region_name
        )
    except BotoCoreError as error:
        raise OperatorError(describe(error, "AWS")) from None
    if not region:
        raise OperatorError(NO_REGION)
    os.environ.setdefault("AWS_REGION", region)
    return region


def _assumed(session: boto3.session.Session, role_arn: str, region: str) -> boto3.session.Session:
    credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="custody-audit")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _fresh_settings() -> Settings:
    """Settings and library clients read again from this process's environment, as it is now."""
    get_settings.cache_clear()
    aws.reset_clients()
    return get_settings()
