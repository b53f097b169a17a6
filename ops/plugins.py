"""Commands other packages add to `custody`, found through Python entry points — never imported by name.

A package declares, in its `pyproject.toml`,

    [project.entry-points."custody.commands"]
    devstack = "devstack.commands"

and the object named (a module will do) has

    add_commands(commands: argparse._SubParsersAction) -> None     # required: add subparsers whose
                                                                   # defaults set handler(args) -> int
    configure_logging(verbose: bool) -> None                      # optional: its loggers and warnings

A handler reports its own failures (a line on stderr and a non-zero status). A package that is
not installed declares nothing, so its commands are simply absent; one whose entry point fails
to load is left out with a line on stderr saying why.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Final, Protocol, cast

GROUP: Final = "custody.commands"


class CommandPlugin(Protocol):
    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


@dataclass(frozen=True)
class Plugin:
    """A loaded entry point of the group: its name and the object it names."""

    name: str
    provider: CommandPlugin

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self.provider.add_commands(commands)

    def configure_logging(self, verbose: bool) -> None:
        configure: Any = getattr(self.provider, "configure_logging", None)
        if callable(configure):
            configure(verbose)


def load(group: str = GROUP) -> list[Plugin]:
    """Every installed entry point of `group`, loaded, by name; those that fail are reported and skipped."""
    found = []
    for point in sorted(entry_points(group=group), key=lambda point: point.name):
        try:
            provider = point.load()
        except Exception as error:  # a broken plugin must not take the other commands down with it
            print(f"custody: the {point.name} commands are unavailable: {error!r}", file=sys.stderr)
            continue
        if not callable(getattr(provider, "add_commands", None)):
            print(f"custody: {point.value} has no add_commands(): its commands are left out", file=sys.stderr)
            continue
        found.append(Plugin(point.name, cast("CommandPlugin", provider)))
    return found
