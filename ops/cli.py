"""`custody`: the operator's and auditor's command line.

custody restore-guard --table T --store S   remove erased customers from a table restored from backup
custody erasure rerun REQUEST_ID            re-run a failed erasure as a new execution
custody audit show|verify|report ...        the auditor's timeline, chain verification, HTML report
custody retention plan|register|sweep       who is due next; what was destroyed; run the sweep once
custody ropa [--format md|csv|json]         the record of processing activities (GDPR art. 30)
custody requests due|register               data-subject requests falling due; every request of a period
(each acts on AWS with your credentials, or on the running local stack with --local)

Other installed packages add their commands through the `custody.commands` entry points
(`ops.plugins`): with devstack installed, `custody local ...` and `custody openapi`.

Exit status: what the command returns; 2 with one line on stderr (`custody: ...`) when it
cannot run; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ops import plugins
from ops.commands import audit, erasure, requests, retention, ropa
from ops.failures import OperatorError


def build_parser(extensions: Sequence[plugins.Plugin]) -> argparse.ArgumentParser:
    """The `custody` parser: ops' own commands, then each plugin's."""
    parser = argparse.ArgumentParser(prog="custody", description="CRM Custody's operator and auditor tools.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests and invocations")
    commands = parser.add_subparsers(dest="command", required=True)
    for own in (erasure, audit, retention, requests, ropa):
        own.add_commands(commands)
    for plugin in extensions:
        plugin.add_commands(commands)
    return parser


def _configure_logging(verbose: bool, extensions: Sequence[plugins.Plugin]) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    for plugin in extensions:
        plugin.configure_logging(verbose)


def main(argv: Sequence[str] | None = None, *, configure_logging: bool = True) -> int:
    """Run `custody` with `argv` (default: the process's arguments); returns the exit status."""
    extensions = plugins.load()
    args = build_parser(extensions).parse_args(argv)
    if configure_logging:
        _configure_logging(args.verbose, extensions)
    try:
        status: int = args.handler(args)
    except OperatorError as error:
        print(f"custody: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
