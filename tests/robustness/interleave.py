"""Holding one request between its read and one of its writes while something else runs (issue 16).

Every AWS call a thread makes goes through botocore's `BaseClient._make_api_call`; inside
`intercepting()` that method is wrapped, and a thread that is `watched` has its reads (`is_read`)
and writes (`is_write`: DynamoDB puts, updates, deletes and transactions, S3 puts and deletes, KMS
data keys, Cognito admin changes, Step Functions starts and callbacks, SQS sends, Secrets Manager
writes, CloudTrail Lake events...) recorded, in order, as `Call`s. A watch may park its thread just
before the n-th write, or before the first call a rule picks (`after_a_read`: the first write made
after a read): the thread then lets other invocations of the in-process Lambda runtime run
(`devstack.runtime.others_may_run`) and waits until it is released. Whatever the parked request
read (the subject's status, its consent version, its key), it read before the other work began;
whatever it writes, it writes after.

Only watched threads are touched: the test's own calls, the gateway and Step Functions' workers
go through unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.client import BaseClient

from devstack import runtime

# Operation names that change something (by their verb), and the few that begin so but only read.
WRITE_VERBS: Final = (
    "Put",
    "Update",
    "Delete",
    "Create",
    "BatchWrite",
    "TransactWrite",
    "Copy",
    "CompleteMultipartUpload",
    "UploadPart",
    "Restore",
    "Start",
    "Stop",
    "Send",
    "GenerateDataKey",
    "ReEncrypt",
    "Admin",
    "Publish",
    "Tag",
    "Untag",
    "Rotate",
    "Schedule",
    "Enable",
    "Disable",
    "Redrive",
)
READ_ONLY: Final = ("AdminGet", "AdminList")
READ_VERBS: Final = ("Get", "Query", "Scan", "BatchGet", "TransactGet", "List", "Describe", "Head", "AdminGet")
PARK_SECONDS: Final = 300.0  # a parked request goes on by itself after this, so a broken test cannot hang


def is_write(operation: str) -> bool:
    """Whether an AWS operation (by its API name, e.g. `PutItem`) changes anything."""
    return operation.startswith(WRITE_VERBS) and not operation.startswith(READ_ONLY)


def is_read(operation: str) -> bool:
    """Whether an AWS operation reads stored state (a `Get`, `Query`, `List`...)."""
    return operation.startswith(READ_VERBS)


@dataclass(frozen=True)
class Call:
    """One AWS call a watched thread made: the service, the operation, what it named (tables,
    buckets, keys), whether it writes, and how many reads and writes the thread made before it."""

    service: str
    operation: str
    targets: tuple[str, ...]
    writes: bool
    reads_before: int
    writes_before: int
    params: dict[str, Any] = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}({', '.join(self.targets)})"

    def names(self, resource: str) -> bool:
        """Whether the call names `resource` (a physical table or bucket name)."""
        return resource in self.targets


Write = Call  # a Call whose `writes` is true


def _targets(params: dict[str, Any]) -> tuple[str, ...]:
    """The tables, buckets and object keys a call names (a transaction's each item)."""
    found: list[str] = []
    for entry in params.get("TransactItems", ()):
        for action in entry.values():
            found.append(str(action.get("TableName")))
    found += list(params.get("RequestItems", {}))
    for name in ("TableName", "Bucket", "Key", "KeyId", "Name", "SecretId", "stateMachineArn"):
        value = params.get(name)
        if isinstance(value, str):
            found.append(value)
    return tuple(found)


ParkRule = Callable[[Call], bool]


@dataclass
class Watch:
    """Every AWS call one watched thread made, and where (if anywhere) it is to park.

    `park_at`: the 1-based index of the write to park before, or a rule picking the call (read or
    write) to park before; None records only. The thread parks once at most.
    """

    park_at: int | ParkRule | None = None
    calls: list[Call] = field(default_factory=list)
    parked: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    parked_before: Call | None = None
    killed: bool = False

    @property
    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.writes]

    def _should_park(self, call: Call) -> bool:
        if self.parked.is_set() or self.park_at is None:
            return False
        if isinstance(self.park_at, int):
            return call.writes and call.writes_before + 1 == self.park_at
        return self.park_at(call)

    def saw(self, service: str, operation: str, params: dict[str, Any]) -> None:
        writes = is_write(operation)
        if not writes and not is_read(operation):
            return
        reads = sum(1 for call in self.calls if not call.writes)
        call = Call(service, operation, _targets(params), writes, reads, len(self.calls) - reads, params)
        if self._should_park(call):
            self.parked_before = call
            self.parked.set()
            with runtime.others_may_run():
                self.released.wait(PARK_SECONDS)
            if self.killed:
                raise Killed(f"ended before {call}, as Lambda ends an invocation at its timeout")
        self.calls.append(call)


class Killed(BaseException):
    """Raised in a parked request that is ended rather than let go: it makes no further call.

    A BaseException, so that no handler of the function's (`except Exception`) writes on its way out,
    as none can once Lambda has ended an invocation.
    """


_LOCAL: Final = threading.local()


@contextmanager
def watched(watch: Watch) -> Iterator[Watch]:
    """The calling thread's AWS writes are `watch`'s for the block (inside `intercepting()`)."""
    saved = getattr(_LOCAL, "watch", None)
    _LOCAL.watch = watch
    try:
        yield watch
    finally:
        _LOCAL.watch = saved


@contextmanager
def intercepting() -> Iterator[None]:
    """Wrap botocore's `_make_api_call` for the block: watched threads' writes are seen before they are made."""
    original = BaseClient._make_api_call

    def _make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        watch: Watch | None = getattr(_LOCAL, "watch", None)
        if watch is not None:
            watch.saw(client.meta.service_model.service_name, operation_name, api_params)
        return original(client, operation_name, api_params)

    BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


class Held:
    """A request sent on its own thread, watched, parked before the write `park_at` picks.

    `start()` returns once it is parked (True) or finished without reaching that write (False);
    `finish()` releases it and returns what `send` returned (raising what it raised); `kill()` ends
    it where it is parked, as Lambda ends an invocation at its timeout (it makes no further call).
    """

    def __init__(self, send: Callable[[], Any], park_at: int | ParkRule) -> None:
        self.watch = Watch(park_at)
        self._send = send
        self._result: Any = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="held-request", daemon=True)

    def _run(self) -> None:
        try:
            with watched(self.watch):
                self._result = self._send()
        except BaseException as error:  # handed to the test thread by finish()
            self._error = error
        finally:
            self._done.set()
            self.watch.parked.set()  # wakes start() when the request ended without parking

    def start(self, timeout: float = PARK_SECONDS) -> bool:
        self._thread.start()
        assert self.watch.parked.wait(timeout), "the held request neither parked nor finished"
        return self.watch.parked_before is not None

    def finish(self, timeout: float = PARK_SECONDS) -> Any:
        self.watch.released.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the released request did not finish"
        if self._error is not None:
            raise self._error
        return self._result

    def kill(self, timeout: float = PARK_SECONDS) -> None:
        self.watch.killed = True
        self.watch.released.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the ended request did not end"
        assert isinstance(self._error, Killed) or self.watch.parked_before is None, self._error

    @property
    def writes(self) -> list[Call]:
        return self.watch.writes

    @property
    def calls(self) -> list[Call]:
        return self.watch.calls


def after_a_read(call: Call) -> bool:
    """The park rule "between its read and its write": the first write made after a read."""
    return call.writes and call.reads_before > 0
