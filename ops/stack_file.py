"""The running local stack as its `stack.json` describes it: what `--local` acts on.

The file is the contract between the local stack, which writes it (`custody local up`, in
`.devstack/` of the repository), and `ops`, which reads the part it needs without importing
the stack's code:

    {"aws_endpoint_url": "http://127.0.0.1:5000", "region": "us-east-1",
     "resources": {"environment": {"CUSTODY_RESOURCE_PREFIX": "crm-custody", ...}, ...}, ...}

`read(state_dir)` returns a `LocalStack`, or raises `NoLocalStack` (an `OperatorError`) when the
file is missing or unreadable or nothing answers at its endpoint.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ops.failures import OperatorError

DEFAULT_STATE_DIR: Final = Path(__file__).resolve().parents[1] / ".devstack"
STACK_FILE_NAME: Final = "stack.json"
NOT_RUNNING: Final = "no local stack running: run `make up` (or `custody local up`)"


class NoLocalStack(OperatorError):
    """No `stack.json` in the state directory, or a stale one."""


@dataclass(frozen=True)
class LocalStack:
    """Where the local stack's AWS answers, its region, and its functions' `CUSTODY_*` variables."""

    path: Path
    aws_endpoint_url: str
    region: str
    environment: dict[str, str]


def read(state_dir: Path = DEFAULT_STATE_DIR) -> LocalStack:
    """The stack described in `state_dir`; `NoLocalStack` unless it is there and answering."""
    path = state_dir / STACK_FILE_NAME
    try:
        data = json.loads(path.read_text())
        stack = LocalStack(
            path,
            str(data["aws_endpoint_url"]),
            str(data["region"]),
            {str(name): str(value) for name, value in data["resources"]["environment"].items()},
        )
    except FileNotFoundError:
        raise NoLocalStack(f"{NOT_RUNNING}; {path} does not exist") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise NoLocalStack(f"{NOT_RUNNING}; {path} is unreadable ({error!r})") from None
    if not _answers(stack.aws_endpoint_url):
        raise NoLocalStack(f"{NOT_RUNNING}; nothing answers at {stack.aws_endpoint_url} ({path} is stale)")
    return stack


def _answers(url: str) -> bool:
    address = urlsplit(url)
    try:
        socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), timeout=2).close()
    except OSError:
        return False
    return True
