"""Retention commands: the plan, the disposal register and an on-demand sweep.

custody retention plan [--horizon-days N] [--json]       who is due next and when; the standing rules
custody retention register [--since D] [--until D] [--json]  what was destroyed, when, why, under which policy
custody retention sweep [--now T [--force-now]]            run the sweep once (as the daily schedule does)

Against AWS with your credentials (settings, region and names as `ops.target` resolves them),
or with `--local` against the running local stack; exit 2 with one line on stderr when the
command cannot run. `--now` travels in time (the local stack's
customers are all recent): e.g. `custody retention sweep --local --now 2030-01-01T00:00:00Z`. A sweep
at a moment to come erases for good what is not due today (customers not yet inactive, records an
obligation still keeps), so outside `--local` it also takes `--force-now`.
Every date comes from custody.declared.retention; nothing printed is personal data.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.failures import OperatorError
from ops.target import Target, add_target_flags, on_target


def _moment(text: str | None, default: datetime) -> datetime:
    from custody.declared import clock

    if text is None:
        return default
    try:
        return clock.parse(text if "T" in text else f"{text}T00:00:00Z")
    except ValueError as error:
        raise OperatorError(f"not a UTC date or moment: {text} ({error})") from None


def cmd_plan(args: argparse.Namespace, target: Target) -> int:
    from custody.retention import disposal

    now = _moment(args.now, datetime.now(UTC))
    plan = disposal.plan(target.settings, now, horizon_days=args.horizon_days, limit=args.limit)
    if args.json:
        print(json.dumps(plan, indent=2))
        return 0
    print(f"now {plan['now']}   horizon {plan['horizon']}   inactivity {plan['inactivity_days']} days")
    print(f"policy version {plan['policy_version']}")
    print(f"\ncustomers due for a retention erasure ({len(plan['customers_due'])}):")
    for entry in plan["customers_due"]:
        flag = "  overdue" if entry["overdue"] else ""
        print(f"  {entry['subject_id']}  last active {entry['last_active_at']}  due {entry['due_at']}{flag}")
    print(f"\nretained customers whose legal obligations end ({len(plan['retention_ending'])}):")
    for entry in plan["retention_ending"]:
        flag = "  overdue" if entry["overdue"] else ""
        print(f"  {entry['subject_id']}  kept records erased from {entry['ends_at']}{flag}")
    print(f"\nerasures held by a legal hold ({len(plan['held_erasures'])}):")
    for entry in plan["held_erasures"]:
        flag = "  PAST DUE (GDPR art. 12(3))" if entry["past_due"] else ""
        print(f"  {entry['request_id']}  received {entry['received_at']}  answer due {entry['response_due']}{flag}")
    print("\nstanding rules (data written or erased at T is gone by T + days):")
    for rule in plan["standing"]:
        print(f"  {rule['store']:<14} {rule['days']:>5} days  {rule['mechanism']}")
    print("\nlegal obligations (records kept past a full erasure; the controller must confirm each period):")
    for rule in plan["obligations"]:
        counted = "from the end of the record's year" if rule["from_year_end"] else "from the record's date"
        print(
            f"  {rule['obligation']:<14} {rule['years']:>3} years {counted} ({rule['jurisdiction']}: {rule['source']})"
        )
        print(f"  {'':<14} categories {', '.join(rule['categories'])}; {rule['legal_basis']}")
    return 0


def cmd_register(args: argparse.Namespace, target: Target) -> int:
    from custody.retention import disposal

    until = _moment(args.until, datetime.now(UTC))
    since = _moment(args.since, until - timedelta(days=365))
    entries = disposal.register(target.settings, since, until)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    print(f"disposal register {since:%Y-%m-%d} .. {until:%Y-%m-%d}: {len(entries)} erasure(s)")
    for entry in entries:
        _print_entry(entry)
    return 0


def _print_entry(entry: dict[str, Any]) -> None:
    erased = sum(entry["stores"].values())
    extended = " (extended)" if entry["extended"] else ""
    print(
        f"- {entry['request_id']}  subject {entry['subject_id']}\n"
        f"    reason {entry['reason']} under policy {entry['policy']} v{entry['version']}\n"
        f"    requested {entry['requested_at']}  due {entry['due_at'] or '-'}{extended}"
        f"  destroyed {entry['destroyed_at'] or '-'}  ({erased} items/versions)\n"
        f"    verification: {entry['verification']}\n"
        f"    unrecoverable after {entry['unrecoverable_after'] or '-'}\n"
        f"    copies expire by {entry['copies_expire_by'] or '-'}\n"
        f"    certificate sha256 {entry['certificate_digest'] or '-'}"
    )
    for kept in entry.get("retained") or ():
        print(f"    kept under {kept['obligation']}: {kept['category']} until {kept['until']}")
    for ended in entry.get("obligations_ended") or ():
        print(f"    obligation {ended['obligation']} ended ({ended['until']}): {', '.join(ended['categories'])}")


def cmd_sweep(args: argparse.Namespace, target: Target) -> int:
    from custody.retention import disposal

    if args.now and not args.local and not args.force_now:
        # A sweep computed at a moment to come erases, for good, what is not yet due: the customers not yet
        # inactive and the records a legal obligation still keeps. Travelling in time is for the local stack.
        raise OperatorError(
            "retention sweep --now is refused outside --local: it would erase what is not yet due (--force-now)"
        )
    settings = target.settings
    if args.batch is not None:
        settings = settings.model_copy(update={"retention_batch_max": args.batch})
    now = _moment(args.now, datetime.now(UTC))
    report = disposal.RetentionSweep(settings).run(now)
    print(json.dumps({"cutoff": report.cutoff, **report.counts(), "request_ids": report.request_ids}, indent=2))
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    retention = commands.add_parser("retention", help="retention plan, disposal register, sweep").add_subparsers(
        dest="retention_command", required=True
    )

    def target(parser: argparse.ArgumentParser) -> None:
        add_target_flags(parser)
        parser.add_argument("--now", help="the moment to compute from (UTC, e.g. 2030-01-01T00:00:00Z)")

    plan = retention.add_parser("plan", help="who is due for disposal next, and when")
    plan.add_argument("--horizon-days", type=int, default=30)
    plan.add_argument("--limit", type=int, default=100)
    plan.add_argument("--json", action="store_true")
    target(plan)
    plan.set_defaults(handler=on_target(cmd_plan))

    register = retention.add_parser("register", help="the disposal register: what was destroyed, when, why")
    register.add_argument("--since", help="requests created from this date (default: a year before --until)")
    register.add_argument("--until", help="requests created until this date (default: now)")
    register.add_argument("--json", action="store_true")
    target(register)
    register.set_defaults(handler=on_target(cmd_register))

    sweep = retention.add_parser("sweep", help="run the retention sweep once")
    sweep.add_argument("--batch", type=int, help="erasures to start at most (default: the settings')")
    sweep.add_argument(
        "--force-now",
        action="store_true",
        help="allow --now outside --local: erases, for good, whatever is due by then (not yet due today)",
    )
    target(sweep)
    sweep.set_defaults(handler=on_target(cmd_sweep))
