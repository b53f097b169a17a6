"""Operator commands: the same against a deployed stack (your AWS credentials) or the local one.

custody restore-guard --table T --store S   replay the erasure ledger over a restored table
custody erasure rerun REQUEST_ID            re-run a failed erasure (a new execution, same request)

Against AWS, settings come from `CUSTODY_*` variables (at least `CUSTODY_RESOURCE_PREFIX` when it
is not the default) and the erasure state machine's ARN is derived from the caller's account.
With `--local`, everything comes from the running local stack's `.devstack/stack.json`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from custody.declared import naming
from custody.declared.settings import Settings, get_settings
from custody.platform import aws


class OperatorError(Exception):
    """A failure the operator can act on."""


def settings_for(local: bool, state_dir: Path) -> Settings:
    if local:
        from devstack.resources import NoStackRunning, StackInfo
        from devstack.stack import prepare_process_environment

        try:
            info = StackInfo.load(state_dir)
        except NoStackRunning as error:
            raise OperatorError(str(error)) from None
        prepare_process_environment()
        os.environ["AWS_ENDPOINT_URL"] = info.aws_endpoint_url
        os.environ.update(info.resources.environment)
    get_settings.cache_clear()
    aws.reset_clients()
    settings = get_settings()
    if not settings.erasure_state_machine_arn:
        import boto3

        account = boto3.client("sts", region_name=settings.region).get_caller_identity()["Account"]
        name = naming.state_machine_name(settings.resource_prefix, naming.ERASURE_STATE_MACHINE)
        arn = f"arn:aws:states:{settings.region}:{account}:stateMachine:{name}"
        settings = settings.model_copy(update={"erasure_state_machine_arn": arn})
    return settings


def cmd_restore_guard(args: argparse.Namespace) -> int:
    from custody.declared import datamap
    from custody.erasure import restore_guard

    settings = settings_for(args.local, args.state_dir)
    try:
        datamap.store(args.store)
    except KeyError:
        names = ", ".join(store.name for store in datamap.table_stores())
        raise OperatorError(f"--store must name a table store of the data map: {names}") from None
    report = restore_guard.guard(settings, args.table, args.store)
    print(f"restored table:        {report.table} (a copy of {report.store})")
    print(f"erased subjects:       {report.subjects_checked}")
    print(f"items removed:         {report.items_removed}")
    return 0


def cmd_erasure_rerun(args: argparse.Namespace) -> int:
    from custody.erasure.starter import ErasureStarter
    from custody.stores.requests import RequestsTable, RequestStatus

    settings = settings_for(args.local, args.state_dir)
    request = RequestsTable(settings).erasure(args.request_id)
    if request is None:
        raise OperatorError(f"no erasure request {args.request_id}")
    if request.status is RequestStatus.COMPLETED and not args.force:
        raise OperatorError("the request is completed; --force re-runs it anyway (it changes nothing)")
    attempt = args.attempt or _next_attempt(settings, args.request_id)
    name = ErasureStarter(settings).start(request, attempt=attempt)
    print(f"started execution {name}")
    return 0


def _next_attempt(settings: Settings, request_id: str) -> int:
    sfn = aws.clients.stepfunctions()
    names: set[str] = set()
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=settings.erasure_state_machine_arn):
        names.update(item["name"] for item in page["executions"])
    attempt = 1
    while f"{request_id}-rerun-{attempt}" in names:
        attempt += 1
    return attempt


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], state_dir: Path) -> None:
    def target(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--local", action="store_true", help="act on the running local stack, not AWS")
        parser.add_argument("--state-dir", type=Path, default=state_dir, help="the local stack's stack.json folder")

    guard = commands.add_parser("restore-guard", help="remove erased customers from a table restored from backup")
    guard.add_argument("--table", required=True, help="the restored table's name")
    guard.add_argument("--store", required=True, help="the data-map store it is a copy of, e.g. profiles")
    target(guard)
    guard.set_defaults(handler=cmd_restore_guard)

    erasure = commands.add_parser("erasure", help="erasure requests").add_subparsers(
        dest="erasure_command", required=True
    )
    rerun = erasure.add_parser("rerun", help="re-run a failed erasure as a new execution")
    rerun.add_argument("request_id")
    rerun.add_argument("--attempt", type=int, help="the re-run's number (default: the next free one)")
    rerun.add_argument("--force", action="store_true", help="re-run even a completed request")
    target(rerun)
    rerun.set_defaults(handler=cmd_erasure_rerun)
