"""What a preflight check returns, and how a read that fails becomes "not checked", never a guess."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

Clients = Callable[[str], Any]
DENIED: Final = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError")
MISSING: Final = (
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NoSuchBucket",
    "404",
    "NotFound",
    "NoSuchEntity",
    "NotFoundException",
    "StateMachineDoesNotExist",
    "TrailNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
)


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "not checked"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


class Unknown(Exception):
    """A check that could not run; its message says why."""


def call(what: str, read: Callable[[], Any]) -> Any:
    """Run one read; access denied or a client-side failure becomes Unknown with the API's words.

    Errors: ClientError for any other error the service answered (the caller decides what it means).
    """
    try:
        return read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in DENIED:
            raise Unknown(f"not allowed to call {what} ({code})") from None
        raise
    except BotoCoreError as error:
        raise Unknown(f"{what}: {error}") from None


def answer_of(error: ClientError) -> str:
    """An API's refusal in one short line: the operation, its error code and HTTP status.

    The message is left out: an endpoint that lacks the API (moto) answers with a whole HTML page.
    """
    code = error.response.get("Error", {}).get("Code") or "no error code"
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    return f"{error.operation_name} {code} (HTTP {status})"


def exists(what: str, read: Callable[[], Any]) -> bool:
    """True when the read finds the resource, False when the service says it is not there."""
    try:
        call(what, read)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in MISSING or status == 404:
            return False
        raise Unknown(f"{what}: {code or error}") from None
    return True
