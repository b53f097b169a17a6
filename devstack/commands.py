"""The local stack's commands of `custody` (never deployed):

custody local up                         start the stack in the foreground (Ctrl-C stops it)
custody local token --email E            a verified customer's ID token
custody local token --staff E --group G  a staff member's access token (TOTP MFA done for you)
custody local token --processor ID       a sub-processor machine client's access token
custody local journey                    run the customer journey against the running stack
custody local demo                       start the stack, run the journey, keep serving
custody local smoke                      start, run the journey non-interactively, stop; exit 0 if it held
custody openapi [--check | --write]      the merged OpenAPI document (docs/openapi.json)
custody preflight [-c KEY=VALUE]         what your AWS account lacks before `make deploy` (read-only)

`preflight` reads a real account with your credentials, but it synthesizes the stack from this
repository (infra, CDK) to know what the deploy will create, so it ships with the repository's
tools rather than with the auditor's `ops` package.

`custody` itself is the ops package's (`ops.cli`); this module is a plugin of it, declared in
pyproject.toml as the `devstack` entry point of the `custody.commands` group: `add_commands` adds
the commands above, `configure_logging` quiets the emulator's loggers. A failure the user can act
on is printed here as one line (`custody: ...`) with exit status 2. Importing this module is
cheap: the stack's modules (moto, werkzeug) are imported when a command runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from devstack.paths import DEFAULT_STATE_DIR, OPENAPI_DOC

if TYPE_CHECKING:
    from devstack.resources import StackInfo
    from devstack.stack import LocalStack


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit status 2."""


Handler = Callable[[argparse.Namespace], int]


def configure_logging(verbose: bool) -> None:
    """The emulator's loggers (`custody` has configured the root logger; `-v` is `verbose`)."""
    logging.getLogger("devstack").setLevel(logging.INFO if verbose else logging.WARNING)
    for noisy in ("moto", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # Powertools warns on every invocation that emitted no custom metric: not news locally.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def _reporting(command: Handler) -> Handler:
    """`command`, with a `CliError` printed as `custody: <message>` and exit status 2."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except CliError as error:
            print(f"custody: {error}", file=sys.stderr)
            return 2

    return handler


def _wait_for_interrupt() -> None:
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    while not stop.wait(0.5):
        pass


def _pages(info: StackInfo) -> str:
    """Where the web pages are: the privacy center and the console, on the API's origin."""
    from custody.declared import web

    return (
        f"  privacy center  {info.api_url}{web.PRIVACY_CENTER_PATH}\n"
        f"  console         {info.api_url}{web.CONSOLE_PATH}\n"
    )


def _banner(info: StackInfo) -> str:
    return (
        f"CRM Custody local stack is up.\n"
        f"{_pages(info)}"
        f"  API             {info.api_url}\n"
        f"  API docs        {info.docs_url}\n"
        f"  AWS endpoint    {info.aws_endpoint_url}   (aws --endpoint-url {info.aws_endpoint_url} ...)\n"
        f"  region          {info.region}\n"
        f"  a token         custody local token --email you@example.com\n"
    )


def cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stack, info = _start(args, args.state_dir)
    try:
        print(_banner(info) + f"  stack file      {args.state_dir / 'stack.json'}", flush=True)
        print(f"Started in {time.monotonic() - started:.1f} s. Ctrl-C stops it.", flush=True)
        _wait_for_interrupt()
    finally:
        stack.stop()
        print("Stopped; the local stack's data is gone.", flush=True)
    return 0


def _start(args: argparse.Namespace, state_dir: Path) -> tuple[LocalStack, StackInfo]:
    """A local stack started with the ports and time scale given (the stack's defaults for the rest)."""
    from devstack.server import PortInUse
    from devstack.stack import LocalStack

    given = {"api_port": args.port, "aws_port": args.aws_port, "time_scale": args.time_scale}
    stack = LocalStack(state_dir=state_dir, **{name: value for name, value in given.items() if value is not None})
    try:
        return stack, stack.start()
    except PortInUse as error:
        raise CliError(f"{error}: stop it, or pass --port / --aws-port") from None


def cmd_token(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from custody.declared import naming
    from devstack import identity
    from devstack.provision import client_factory
    from devstack.resources import NoStackRunning, StackInfo

    try:
        info = StackInfo.load(args.state_dir)
    except NoStackRunning as error:
        raise CliError(str(error)) from None
    cognito = client_factory(info.region, info.aws_endpoint_url)("cognito-idp")
    pools = info.resources.user_pools
    try:
        if args.email:
            tokens = identity.customer_tokens(cognito, pools[naming.CUSTOMER_POOL], args.email)
            token = tokens.access_token if args.access else tokens.id_token
        elif args.staff:
            if not args.group:
                raise CliError("--staff needs --group (one of: " + ", ".join(pools[naming.STAFF_POOL].groups) + ")")
            tokens = identity.staff_tokens(cognito, pools[naming.STAFF_POOL], args.staff, args.group)
            token = tokens.access_token  # staff routes take the access token (its scopes are the groups)
        else:
            endpoint = identity.http_endpoint(info.api_url)
            token = identity.processor_tokens(
                cognito, pools[naming.PROCESSOR_POOL], args.processor, endpoint
            ).access_token
    except identity.SignInFailed as error:
        raise CliError(str(error)) from None
    except (BotoCoreError, ClientError) as error:
        raise CliError(f"the local stack at {info.aws_endpoint_url} refused: {error}") from None
    print(token)
    return 0


def cmd_journey(args: argparse.Namespace) -> int:
    from devstack import journey
    from devstack.resources import NoStackRunning, StackInfo

    try:
        info = StackInfo.load(args.state_dir)
    except NoStackRunning as error:
        raise CliError(str(error)) from None
    return journey.run(info, interactive=not args.non_interactive).exit_status


def _run_with_stack(args: argparse.Namespace, state_dir: Path, keep_serving: bool, interactive: bool) -> int:
    from devstack import journey

    started = time.monotonic()
    stack, info = _start(args, state_dir)
    try:
        print(_banner(info), flush=True)
        print(f"Started in {time.monotonic() - started:.1f} s.\n", flush=True)
        outcome = journey.run(info, interactive=interactive)
        if keep_serving:
            print(f"\nIn your browser:\n{_pages(info)}The stack keeps serving; Ctrl-C stops it.", flush=True)
            _wait_for_interrupt()
        return outcome.exit_status
    finally:
        stack.stop()


def cmd_demo(args: argparse.Namespace) -> int:
    return _run_with_stack(args, args.state_dir, keep_serving=True, interactive=sys.stdout.isatty())


def cmd_smoke(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="custody-smoke-") as state_dir:
        return _run_with_stack(args, Path(state_dir), keep_serving=False, interactive=False)


def cmd_openapi(args: argparse.Namespace) -> int:
    from devstack import openapi

    argv = ["--write"] if args.write else ["--check"] if args.check else []
    return openapi.main([*argv, "--path", str(args.path)])


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `local ...` and `openapi` to `custody`'s commands (the `custody.commands` entry point)."""
    local = commands.add_parser("local", help="the embedded local AWS stack").add_subparsers(
        dest="local_command", required=True
    )

    def stack_command(name: str, help_text: str, handler: Handler, free_ports: bool) -> None:
        # No default is the stack's own default (devstack.stack.LocalStack), read when it starts.
        port = 0 if free_ports else None
        command = local.add_parser(name, help=help_text)
        command.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where stack.json lives")
        command.add_argument("--port", type=int, default=port, help="the API's port (0: any free)")
        command.add_argument("--aws-port", type=int, default=port, help="the AWS endpoint's port (0: any free)")
        command.add_argument(
            "--time-scale", type=float, help="Step Functions retry/wait sleeps are multiplied by this (1: real time)"
        )
        command.set_defaults(handler=_reporting(handler))

    stack_command("up", "start the stack in the foreground", cmd_up, free_ports=False)
    stack_command("demo", "start the stack, run the journey, keep serving", cmd_demo, free_ports=False)
    stack_command("smoke", "start on free ports, run the journey, stop; exit 0 if it held", cmd_smoke, free_ports=True)

    token = local.add_parser("token", help="print a token for a local user")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="a customer's e-mail (created and verified if needed)")
    who.add_argument("--staff", metavar="EMAIL", help="a staff member's e-mail (needs --group)")
    who.add_argument("--processor", metavar="ID", help="a sub-processor's id (prints an access token)")
    token.add_argument("--group", help="the staff member's group")
    token.add_argument(
        "--access", action="store_true", help="a customer's access token instead of the ID token their routes take"
    )
    token.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    token.set_defaults(handler=_reporting(cmd_token))

    journey = local.add_parser("journey", help="run the customer journey against the running stack")
    journey.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    journey.add_argument("--non-interactive", action="store_true", help="no pauses between steps")
    journey.set_defaults(handler=_reporting(cmd_journey))

    openapi = commands.add_parser("openapi", help="print, --check or --write docs/openapi.json")
    action = openapi.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write the document")
    action.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    openapi.add_argument("--path", type=Path, default=OPENAPI_DOC)
    openapi.set_defaults(handler=_reporting(cmd_openapi))

    from devstack import preflight

    preflight.add_commands(commands)
