"""`custody preflight`: the deploy's settings and template, the checks, and their report."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from devstack.paths import REPO_ROOT
from devstack.preflight.calls import Check, Status
from devstack.preflight.checks import BOOTSTRAP_QUALIFIER, STACK_NAME, Preflight, Target
from ops.failures import NO_REGION, OperatorError, describe


def deploy_context(overrides: Iterable[str]) -> dict[str, Any]:
    """cdk.json's context with `key=value` overrides, as `cdk -c` reads them."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    for item in overrides:
        key, _, value = item.partition("=")
        context[key] = value
    return context


def target_from_context(context: Mapping[str, Any], account: str, region: str) -> Target:
    from aws_cdk import App

    from infra.config import CustodyConfig

    config = CustodyConfig.from_context(App(context=dict(context)).node)
    return Target(
        prefix=config.prefix,
        region=region,
        account=account,
        reserved=dict(config.reserved_concurrency or {}),
        alarm_email=config.alarm_email,
        ses_from_email=config.ses_from_email,
        notice_sender=config.notice_sender or config.ses_from_email,
        manage_api_gateway_account=config.manage_api_gateway_account,
        multi_region_trail=config.multi_region_trail,
        qualifier=str(context.get("@aws-cdk/core:bootstrapQualifier") or BOOTSTRAP_QUALIFIER),
    )


def synthesize(context: Mapping[str, Any]) -> dict[str, Any]:
    """The template `cdk deploy` would deploy with these settings (synthesized in process, ~20 s)."""
    from infra.app import STACK_ID, build_app

    with tempfile.TemporaryDirectory() as outdir:
        app = build_app(context={**context, "aws:cdk:disable-asset-staging": True}, outdir=outdir)
        try:
            app.synth()
        except RuntimeError as error:  # cdk-nag findings fail validation; the template is written
            if "Validation failed" not in str(error):
                raise
        template: dict[str, Any] = json.loads((Path(outdir) / f"{STACK_ID}.template.json").read_text())
        return template


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
    """Run the checks and print them; exit 0 (ready) or 1 (something to fix).

    What stops preflight from running at all (no region, profile or credentials, an identity
    STS refuses, a setting the stack refuses such as a `custody:prefix` too long) is an
    `OperatorError`: one line on stderr and exit 2 (`ops.cli`), never a traceback.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    where = "AWS (preflight)"
    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        if not session.region_name:
            raise OperatorError(NO_REGION)
        account = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise OperatorError(describe(error, where)) from None
    context = deploy_context(args.context)
    try:
        target = target_from_context(context, account, session.region_name)
    except ValueError as error:
        raise OperatorError(f"a setting cannot be deployed: {error}") from None
    template = synthesize(context)
    checks = Preflight(lambda service: session.client(service), target, template).run()  # type: ignore[call-overload]
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
