"""Requests-register commands: what falls due, and every request received in a period.

custody requests due [--within-days N] [--kind K] [--json]          open requests, soonest due first
custody requests register [--since D] [--until D] [--json]          every request received in the period

Against AWS with your credentials (settings, region and names as `ops.target` resolves them), or with
`--local` against the running local stack; exit 2 with one line on stderr when the command cannot run.
`--now` travels in time. Every line holds ids, kinds, statuses and dates — never personal data — and
comes from custody.deadlines.register (the requests table's `by_due` and `by_status` indexes).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.commands.retention import _moment
from ops.target import Target, add_target_flags, on_target


def cmd_due(args: argparse.Namespace, target: Target) -> int:
    from custody.deadlines.register import RequestsRegister
    from custody.declared.jurisdictions import RequestKind

    now = _moment(args.now, datetime.now(UTC))
    register = RequestsRegister(target.settings)
    kinds = (RequestKind(args.kind),) if args.kind else tuple(RequestKind)
    entries = register.open_entries(now, within_days=args.within_days, kinds=kinds)
    counts = register.due_counts(now)
    if args.json:
        print(json.dumps({"overdue": counts.overdue, "due_soon": counts.due_soon, "requests": entries}, indent=2))
        return 0
    window = "all open" if args.within_days is None else f"due within {args.within_days} days"
    print(
        f"now {now:%Y-%m-%dT%H:%MZ}   {window}: {len(entries)}   overdue {counts.overdue}   "
        f"due within {target.settings.request_due_warning_days} days {counts.due_soon}"
    )
    for entry in entries:
        _print_entry(entry)
    return 0


def cmd_register(args: argparse.Namespace, target: Target) -> int:
    from custody.deadlines.register import RequestsRegister

    now = _moment(args.now, datetime.now(UTC))
    until = _moment(args.until, now)
    since = _moment(args.since, until - timedelta(days=365))
    entries = RequestsRegister(target.settings).entries(since, until, now)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    print(f"requests register {since:%Y-%m-%d} .. {until:%Y-%m-%d}: {len(entries)} request(s)")
    for entry in entries:
        _print_entry(entry)
    return 0


def _print_entry(entry: dict[str, Any]) -> None:
    flags = [word for word, on in (("OVERDUE", entry["overdue"]), ("extended", entry["extended"])) if on]
    extension = entry["extension"] or {}
    answered = entry["completed_at"] or "-"
    on_time = {True: "on time", False: "LATE", None: ""}[entry["on_time"]]
    print(
        f"- {entry['request_id']}  {entry['kind']}  {entry['status']}  {' '.join(flags)}\n"
        f"    subject {entry['subject_id']}  under {entry['jurisdiction'] or '-'}\n"
        f"    received {entry['received_at']}  due {entry['due_at'] or '-'}"
        + (f" (was {extension.get('previous_due_at')}, {extension.get('reason')})" if extension else "")
        + f"\n    answered {answered} {on_time}".rstrip()
        + (f"  outcome {entry['outcome']}" if entry["outcome"] else "")
        + (f"\n    notices {entry['notices']}" if entry["notices"] else "")
    )


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    requests = commands.add_parser("requests", help="the requests register: due dates, extensions, answers")
    actions = requests.add_subparsers(dest="requests_command", required=True)

    def target(parser: argparse.ArgumentParser) -> None:
        add_target_flags(parser)
        parser.add_argument("--now", help="the moment to compute from (UTC, e.g. 2030-01-01T00:00:00Z)")
        parser.add_argument("--json", action="store_true")

    due = actions.add_parser("due", help="open requests, soonest due first (overdue flagged)")
    due.add_argument("--within-days", type=int, help="only those due within N days (overdue included)")
    due.add_argument("--kind", choices=("access", "rectification", "erasure", "restriction"))
    target(due)
    due.set_defaults(handler=on_target(cmd_due))

    register = actions.add_parser("register", help="every request received in a period, with its dates")
    register.add_argument("--since", help="received from this date (default: a year before --until)")
    register.add_argument("--until", help="received until this date (default: now)")
    target(register)
    register.set_defaults(handler=on_target(cmd_register))
