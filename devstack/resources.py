"""What a provisioned local stack holds, and the `.devstack/stack.json` file that describes it.

`Resources` is what `devstack.provision` made (physical names, ids, ARNs); `StackInfo` adds
where the running stack listens. Other tools (`custody local token`, the journey, the AWS CLI
with `--endpoint-url`) find a running stack through the file alone.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from custody.declared import web
from devstack.paths import DEFAULT_STATE_DIR, STACK_FILE_NAME


class NoStackRunning(RuntimeError):
    """No `.devstack/stack.json`, or the process that wrote it is gone."""


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    arn: str
    alias: str


@dataclass(frozen=True)
class UserPoolInfo:
    pool_id: str
    pool_arn: str
    client_id: str
    issuer: str
    groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()  # the full names of its resource server's scopes


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    arn: str
    handler: str
    api: bool


@dataclass(frozen=True)
class Resources:
    region: str
    account_id: str
    environment: dict[str, str]  # the CUSTODY_* variables every function gets
    tables: dict[str, str]  # logical name -> table name
    buckets: dict[str, str]  # logical name -> bucket name
    keys: dict[str, KeyInfo]  # "data", "audit"
    user_pools: dict[str, UserPoolInfo]  # "customer", "staff"
    functions: dict[str, FunctionInfo]  # catalog name -> deployed function
    state_machines: dict[str, str]  # "erasure" -> ARN
    alarm_topic_arn: str
    queues: dict[str, str] = field(default_factory=dict)  # logical name -> queue URL
    # The fake sub-processor's HTTPS endpoint on loopback (devstack.processor_endpoint), once started.
    processor_endpoint: str = ""
    notice_templates: dict[str, str] = field(default_factory=dict)  # notice kind -> SES template name

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resources:
        return cls(
            region=data["region"],
            account_id=data["account_id"],
            environment=dict(data["environment"]),
            tables=dict(data["tables"]),
            buckets=dict(data["buckets"]),
            keys={name: KeyInfo(**value) for name, value in data["keys"].items()},
            user_pools={
                name: UserPoolInfo(
                    **{**value, "groups": tuple(value.get("groups", ())), "scopes": tuple(value.get("scopes", ()))}
                )
                for name, value in data["user_pools"].items()
            },
            functions={name: FunctionInfo(**value) for name, value in data["functions"].items()},
            state_machines=dict(data["state_machines"]),
            alarm_topic_arn=data["alarm_topic_arn"],
            queues=dict(data.get("queues", {})),
            processor_endpoint=str(data.get("processor_endpoint", "")),
            notice_templates=dict(data.get("notice_templates", {})),
        )


@dataclass(frozen=True)
class StackInfo:
    api_url: str
    aws_endpoint_url: str
    resources: Resources
    pid: int = field(default_factory=os.getpid)

    @property
    def region(self) -> str:
        return self.resources.region

    @property
    def docs_url(self) -> str:
        return f"{self.api_url}{web.API_REFERENCE_PATH}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "docs_url": self.docs_url,
            "aws_endpoint_url": self.aws_endpoint_url,
            "region": self.region,
            "pid": self.pid,
            "resources": asdict(self.resources),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackInfo:
        return cls(
            api_url=data["api_url"],
            aws_endpoint_url=data["aws_endpoint_url"],
            resources=Resources.from_dict(data["resources"]),
            pid=int(data["pid"]),
        )

    def write(self, state_dir: Path = DEFAULT_STATE_DIR) -> Path:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / STACK_FILE_NAME
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        temporary.replace(path)  # readers never see half a file
        return path

    @classmethod
    def load(cls, state_dir: Path = DEFAULT_STATE_DIR) -> StackInfo:
        """The running stack described in `state_dir`, or `NoStackRunning`."""
        path = state_dir / STACK_FILE_NAME
        hint = "no local stack running: run `make up` (or `custody local up`)"
        try:
            info = cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise NoStackRunning(f"{hint}; {path} does not exist") from None
        except (ValueError, KeyError, TypeError) as error:
            raise NoStackRunning(f"{hint}; {path} is unreadable ({error})") from None
        if not _alive(info.pid):
            raise NoStackRunning(f"{hint}; {path} was left by process {info.pid}, which has exited")
        if not _listening(info.aws_endpoint_url):
            raise NoStackRunning(f"{hint}; nothing answers at {info.aws_endpoint_url} ({path} is stale)")
        return info


def remove_stack_file(state_dir: Path = DEFAULT_STATE_DIR) -> None:
    (state_dir / STACK_FILE_NAME).unlink(missing_ok=True)


def _listening(url: str) -> bool:
    parsed = urlsplit(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), timeout=2):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
