"""The operator's erasure commands, on a deployed stack (your AWS credentials) or the local one.

custody restore-guard --table T --store S   replay the erasure ledger over a restored table
custody erasure rerun REQUEST_ID            re-run a failed erasure (a new execution, same request, admitted
                                            through the admission queue)

Settings, region and names as `ops.target` resolves them (at least `CUSTODY_RESOURCE_PREFIX`
when it is not the default); with `--local`, the running local stack's `stack.json`. Exit
status 2 with one line on stderr when the command cannot run (no credentials, access denied, no
such request or table, no local stack).
"""

from __future__ import annotations

import argparse

from botocore.exceptions import ClientError

from custody.declared import naming
from custody.declared.settings import Settings
from custody.platform import aws
from ops.failures import OperatorError
from ops.target import Target, add_target_flags, on_target


def cmd_restore_guard(args: argparse.Namespace, target: Target) -> int:
    from custody.declared import datamap
    from custody.erasure import restore_guard

    names = [store.name for store in datamap.table_stores()]
    if args.store not in names:
        raise OperatorError(f"--store must name a table store of the data map: {', '.join(names)}")
    _require_table(target, args.table)
    report = restore_guard.guard(target.settings, args.table, args.store)
    print(f"restored table:        {report.table} (a copy of {report.store})")
    print(f"erased subjects:       {report.subjects_checked}")
    print(f"items removed:         {report.items_removed}")
    return 0


def _require_table(target: Target, table: str) -> None:
    """`OperatorError` unless `table` exists: a guard over no table would report 0 items removed."""
    try:
        target.clients("dynamodb").describe_table(TableName=table)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise OperatorError(f"no table {table} in {target.where}") from None


def cmd_erasure_rerun(args: argparse.Namespace, target: Target) -> int:
    from custody.declared.naming import execution_name
    from custody.erasure.admission import Admission, Ticket
    from custody.stores.requests import RequestsTable, RequestStatus

    request = RequestsTable(target.settings).erasure(args.request_id)
    if request is None:
        raise OperatorError(f"no erasure request {args.request_id}")
    if request.status is RequestStatus.COMPLETED and not args.force:
        raise OperatorError("the request is completed; --force re-runs it anyway (it changes nothing)")
    if request.status is RequestStatus.HELD:
        raise OperatorError(
            "a legal hold holds the request: it starts when a privacy officer lifts the hold or it ends"
        )
    attempt = args.attempt or _next_attempt(target.settings, args.request_id)
    # Through admission, as every start: the stack's admission function starts it when a slot is
    # free, under the capacity the stack was deployed with (which this machine need not know).
    Admission(target.settings).enqueue(Ticket(request.request_id, attempt))
    print(f"queued execution {execution_name(request.request_id, attempt)} (it starts when a slot is free)")
    return 0


def _next_attempt(settings: Settings, request_id: str) -> int:
    sfn = aws.clients.stepfunctions()
    names: set[str] = set()
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=settings.erasure_state_machine_arn):
        names.update(item["name"] for item in page["executions"])
    attempt = 1
    while naming.execution_name(request_id, attempt) in names:
        attempt += 1
    return attempt


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    guard = commands.add_parser("restore-guard", help="remove erased customers from a table restored from backup")
    guard.add_argument("--table", required=True, help="the restored table's name")
    guard.add_argument("--store", required=True, help="the data-map store it is a copy of, e.g. profiles")
    add_target_flags(guard)
    guard.set_defaults(handler=on_target(cmd_restore_guard))

    erasure = commands.add_parser("erasure", help="erasure requests").add_subparsers(
        dest="erasure_command", required=True
    )
    rerun = erasure.add_parser("rerun", help="re-run a failed erasure as a new execution")
    rerun.add_argument("request_id")
    rerun.add_argument("--attempt", type=int, help="the re-run's number (default: the next free one)")
    rerun.add_argument("--force", action="store_true", help="re-run even a completed request")
    add_target_flags(rerun)
    rerun.set_defaults(handler=on_target(cmd_erasure_rerun))
