"""The record of processing activities (GDPR art. 30): `custody ropa`.

custody ropa [--format md|csv|json]                   the record of the deployed stack (your AWS credentials)
custody ropa --local [--format ...]                   the record of the running local stack
custody ropa --declared-only [--format ...]           the record the declarations make, offline
custody ropa --write                                  rewrite docs/ropa.md (declared only, Markdown)

Against a stack the record holds its settings (region, backup and recovery periods) and every
sub-processor agreement in its registry (one Scan of the registry, a table of contracts); the
controller comes from the `CUSTODY_CONTROLLER_*` variables, else the declared placeholders
(`custody.declared.ropa.CONTROLLER`). Nothing printed is a customer's: names, codes and periods. Exit
2 with one line on stderr when the stack cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys

from ops.target import Target, add_target_flags, on_target

FORMATS = ("md", "csv", "json")


def _print(args: argparse.Namespace, record: dict[str, object]) -> int:
    from ops import ropa

    render = {"md": ropa.render_markdown, "csv": ropa.render_csv, "json": ropa.render_json}[args.format]
    sys.stdout.write(render(record))
    return 0


def cmd_stack(args: argparse.Namespace, target: Target) -> int:
    from custody.declared import ropa as declared
    from custody.subprocessors.registry import ProcessorRegistry
    from ops import ropa

    agreements = ProcessorRegistry(target.settings).list()
    controller = declared.CONTROLLER.from_environment(os.environ)
    return _print(args, ropa.build(target.settings, agreements, controller))


def cmd_declared(args: argparse.Namespace) -> int:
    from custody.declared import ropa as declared
    from ops import ropa

    if args.write:
        ropa.DOC.write_text(ropa.document())
        print(f"wrote {ropa.DOC}")
        return 0
    return _print(args, ropa.build(None, None, declared.CONTROLLER.from_environment(os.environ)))


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("ropa", help="the record of processing activities (GDPR art. 30)")
    parser.add_argument("--format", choices=FORMATS, default="md", help="Markdown (default), CSV or JSON")
    parser.add_argument(
        "--declared-only", action="store_true", help="from the declarations alone, offline: no registry, no settings"
    )
    parser.add_argument("--write", action="store_true", help="rewrite docs/ropa.md from the declarations")
    add_target_flags(parser, verb="read")
    stack = on_target(cmd_stack)
    parser.set_defaults(handler=lambda args: cmd_declared(args) if args.declared_only or args.write else stack(args))
