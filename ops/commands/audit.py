"""The auditor's commands: against AWS with the auditor's own credentials, or the local stack.

custody audit show REQUEST_ID                 the execution history and the ledger side by side
custody audit verify REQUEST_ID | --all       recompute the chain(s); exit 1 naming every problem
custody audit report REQUEST_ID --html FILE   a self-contained HTML erasure report to file

Any chain id works where a request id does; a shared family (`refusals/<function>`,
`processors/<id>`) stands for its own chain and every shard of it (`custody.audit.review.reader`).

Against AWS the reads use your credentials (or `--role-arn`, assumed first: the stack's
`AuditorRole`), which need only the ledger, the audit key and the execution history; settings,
region and names as `ops.target` resolves them. With `--local`, the running local stack.
Exit status: 0 verified, 1 a chain failed verification, 2 the command could not run (one line
on stderr: no credentials, access denied, no such request, no local stack).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from ops.auditor.report import render_html_all, render_text, verdict
from ops.failures import OperatorError
from ops.target import Target, add_target_flags, on_target


def cmd_show(args: argparse.Namespace, target: Target) -> int:
    chains = AuditorReader(target.settings, target.clients).chains(args.request_id)
    if not any(chain.events or chain.executions for chain in chains):
        raise OperatorError(f"no ledger events and no executions for {args.request_id}")
    failed = 0
    for chain in chains:
        verification = verify(chain)
        failed += not verification.ok
        print(render_text(chain, verification, brief=args.brief))
    return 1 if failed else 0


def cmd_verify(args: argparse.Namespace, target: Target) -> int:
    reader = AuditorReader(target.settings, target.clients)
    if args.all:
        chain_ids = reader.chain_ids()
    elif args.request_id:
        chain_ids = [args.request_id]
    else:
        raise OperatorError("name a REQUEST_ID or pass --all")
    failed = verified = 0
    for chain_id in chain_ids:
        chains = reader.chains(chain_id) if not args.all else [reader.chain(chain_id)]
        written = [chain for chain in chains if chain.events or chain.documents or chain.deleted or chain.head]
        if not written and not args.all:
            raise OperatorError(f"the ledger holds no chain {chain_id}")
        for chain in written:
            result = verify(chain)
            verified += 1
            failed += not result.ok
            print(verdict(result))
    if args.all:
        print(f"{verified} chains verified, {failed} failed")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace, target: Target) -> int:
    chains = [chain for chain in AuditorReader(target.settings, target.clients).chains(args.request_id) if chain.events]
    if not chains:
        raise OperatorError(f"the ledger holds no chain {args.request_id}")
    verifications = [verify(chain) for chain in chains]
    try:
        args.html.write_text(render_html_all(list(zip(chains, verifications, strict=True))), encoding="utf-8")
    except OSError as error:
        raise OperatorError(f"cannot write {args.html}: {error.strerror or error}") from None
    print(f"wrote {args.html}")
    for verification in verifications:
        print(verdict(verification))
    return 0 if all(verification.ok for verification in verifications) else 1


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def target(parser: argparse.ArgumentParser) -> None:
        add_target_flags(parser, verb="read")
        parser.add_argument("--role-arn", help="assume this role first (the stack's AuditorRole)")

    audit = commands.add_parser("audit", help="the auditor's timeline, chain verification and report").add_subparsers(
        dest="audit_command", required=True
    )
    show = audit.add_parser("show", help="the execution history and the ledger side by side")
    show.add_argument("request_id")
    show.add_argument("--brief", action="store_true", help="task outcomes and ledger events only")
    target(show)
    show.set_defaults(handler=on_target(cmd_show))

    check = audit.add_parser("verify", help="recompute a chain (or --all); exit 1 naming every problem")
    check.add_argument("request_id", nargs="?")
    check.add_argument("--all", action="store_true", help="every chain in the ledger")
    target(check)
    check.set_defaults(handler=on_target(cmd_verify))

    report = audit.add_parser("report", help="write a self-contained HTML erasure report")
    report.add_argument("request_id")
    report.add_argument("--html", type=Path, required=True, help="the file to write")
    target(report)
    report.set_defaults(handler=on_target(cmd_report))
