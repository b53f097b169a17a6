"""The auditor's commands: against AWS with the auditor's own credentials, or the local stack.

custody audit show REQUEST_ID                 the execution history and the ledger side by side
custody audit verify REQUEST_ID | --all       recompute the chain(s); exit 1 naming every problem
custody audit report REQUEST_ID --html FILE   a self-contained HTML erasure report to file

Against AWS the reads use your credentials (or `--role-arn`, assumed first: the stack's
`AuditorRole`), which need only the ledger, the audit key and the execution history. Settings
come from `CUSTODY_*` variables as for the operator commands; the bucket's account-region
suffix is taken from the caller's account unless `CUSTODY_BUCKET_QUALIFIER` is set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from custody.declared.settings import Settings
from devstack.audit_report import render_html, render_text, verdict
from devstack.audit_trail import AuditorReader, Chain, Verification, verify
from devstack.operator import OperatorError, settings_for
from devstack.provision import ClientFactory, client_factory


def inspect(settings: Settings, clients: ClientFactory, chain_id: str) -> tuple[Chain, Verification]:
    chain = AuditorReader(settings, clients).chain(chain_id)
    return chain, verify(chain)


def _target(args: argparse.Namespace) -> tuple[Settings, ClientFactory]:
    settings = settings_for(args.local, args.state_dir)
    if args.local:
        from devstack.resources import StackInfo

        info = StackInfo.load(args.state_dir)
        return settings, client_factory(info.region, info.aws_endpoint_url)
    import boto3

    session = boto3.session.Session(region_name=settings.region)
    if args.role_arn:
        credentials = session.client("sts").assume_role(RoleArn=args.role_arn, RoleSessionName="custody-audit")[
            "Credentials"
        ]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=settings.region,
        )
    if "CUSTODY_BUCKET_QUALIFIER" not in os.environ:
        account = session.client("sts").get_caller_identity()["Account"]
        settings = settings.model_copy(update={"bucket_qualifier": f"{account}-{settings.region}"})
    return settings, lambda service: session.client(service)


def cmd_show(args: argparse.Namespace) -> int:
    settings, clients = _target(args)
    chain, verification = inspect(settings, clients, args.request_id)
    if not chain.events and not chain.executions:
        raise OperatorError(f"no ledger events and no executions for {args.request_id}")
    print(render_text(chain, verification, brief=args.brief))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    settings, clients = _target(args)
    reader = AuditorReader(settings, clients)
    if args.all:
        chain_ids = reader.chain_ids()
    elif args.request_id:
        chain_ids = [args.request_id]
    else:
        raise OperatorError("name a REQUEST_ID or pass --all")
    failed = 0
    for chain_id in chain_ids:
        chain = reader.chain(chain_id)
        if not chain.events and not chain.documents and not chain.deleted:
            raise OperatorError(f"the ledger holds no chain {chain_id}")
        result = verify(chain)
        failed += not result.ok
        print(verdict(result))
    if args.all:
        print(f"{len(chain_ids)} chains verified, {failed} failed")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    settings, clients = _target(args)
    chain, verification = inspect(settings, clients, args.request_id)
    if not chain.events:
        raise OperatorError(f"the ledger holds no chain {args.request_id}")
    args.html.write_text(render_html(chain, verification), encoding="utf-8")
    print(f"wrote {args.html}")
    print(verdict(verification))
    return 0 if verification.ok else 1


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], state_dir: Path) -> None:
    def target(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--local", action="store_true", help="read the running local stack, not AWS")
        parser.add_argument("--state-dir", type=Path, default=state_dir, help="the local stack's stack.json folder")
        parser.add_argument("--role-arn", help="assume this role first (the stack's AuditorRole)")

    audit = commands.add_parser("audit", help="the auditor's timeline, chain verification and report").add_subparsers(
        dest="audit_command", required=True
    )
    show = audit.add_parser("show", help="the execution history and the ledger side by side")
    show.add_argument("request_id")
    show.add_argument("--brief", action="store_true", help="task outcomes and ledger events only")
    target(show)
    show.set_defaults(handler=cmd_show)

    check = audit.add_parser("verify", help="recompute a chain (or --all); exit 1 naming every problem")
    check.add_argument("request_id", nargs="?")
    check.add_argument("--all", action="store_true", help="every chain in the ledger")
    target(check)
    check.set_defaults(handler=cmd_verify)

    report = audit.add_parser("report", help="write a self-contained HTML erasure report")
    report.add_argument("request_id")
    report.add_argument("--html", type=Path, required=True, help="the file to write")
    target(report)
    report.set_defaults(handler=cmd_report)
