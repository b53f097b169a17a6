"""Lambda's concurrency, locally: each invocation holds a unit from the time Lambda accepts it until
its handler returns, and an invocation beyond the limit is throttled instead of run.

The limits are Lambda's (Lambda developer guide, "Lambda function scaling" and "Configuring reserved
concurrency"):

* a function with reserved concurrency (`ReservedConcurrentExecutions` in the synthesized template,
  applied to the local function by `devstack.wiring` through `PutFunctionConcurrency`) runs at most
  that many invocations at once; 0 throttles every invocation;
* every other function draws on the account's unreserved pool: the account's concurrency less every
  reservation. The account's concurrency is `CUSTODY_LOCAL_ACCOUNT_CONCURRENCY` (read when
  `devstack.patches` installs; default 1,000, Lambda's default quota per account and Region) or
  `account_limit(n)` for a block of a test.

A throttled invocation raises `Throttled`, moto's rendering of Lambda's error: HTTP 429
`TooManyRequestsException` with `Reason` `ReservedFunctionConcurrentInvocationLimitExceeded` or
`ConcurrentInvocationLimitExceeded` (Lambda API reference, `Invoke`, and botocore's model of the
error). What each caller then sees is the caller's: a synchronous `Invoke` gets the 429, a Step
Functions `lambda:invoke` task fails with `Lambda.TooManyRequestsException`, the local API gateway
answers 500 (`devstack.gateway`), the asynchronous queue keeps the event (`devstack.asynchronous`)
and the SQS event source mapping leaves the batch on the queue (`devstack.queue_source`).

`counts()` tells what happened since the process started: throttles per function and invocation type
(Lambda's `Throttles` metric), the peak of concurrent invocations per function (its
`ConcurrentExecutions` maximum), and invocations admitted.

Not modelled: the scaling rate (1,000 execution environments every 10 seconds per function), burst
limits, provisioned concurrency, per-function rate limits (`FunctionInvocationRateLimitExceeded`),
Lambda's 100-unit unreserved minimum (a small local account could not hold any reservation), and
the minutes a cold start takes: a unit is held for exactly the run of the handler.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from moto.awslambda.exceptions import LambdaClientError

ACCOUNT_CONCURRENCY_VARIABLE: Final = "CUSTODY_LOCAL_ACCOUNT_CONCURRENCY"
DEFAULT_ACCOUNT_CONCURRENCY: Final = 1_000  # Lambda quotas: "Concurrent executions", default per Region
RESERVED_REASON: Final = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_REASON: Final = "ConcurrentInvocationLimitExceeded"
SYNCHRONOUS: Final = "RequestResponse"
ASYNCHRONOUS: Final = "Event"


class Throttled(LambdaClientError):
    """Lambda's 429 for an invocation beyond the function's or the account's concurrency."""

    code = 429

    def __init__(self, function_name: str, reason: str) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.function_name = function_name
        self.reason = reason
        self.description = json.dumps({"Reason": reason, "Type": "User", "message": "Rate Exceeded."})


@dataclass(frozen=True)
class Counts:
    """What the pool counted; subtract an earlier `Counts` for what happened in between."""

    throttles: Counter[tuple[str, str]] = field(default_factory=Counter)  # (function, invocation type)
    admitted: Counter[str] = field(default_factory=Counter)  # function -> invocations run
    peak: Counter[str] = field(default_factory=Counter)  # function -> most in flight at once (not subtracted)

    def throttles_of(self, function_name: str) -> int:
        return sum(n for (name, _), n in self.throttles.items() if name == function_name)

    @property
    def total_throttles(self) -> int:
        return sum(self.throttles.values())

    def __sub__(self, earlier: Counts) -> Counts:
        return Counts(self.throttles - earlier.throttles, self.admitted - earlier.admitted, Counter(self.peak))


def _reservation(function: Any) -> int | None:
    """moto's `LambdaFunction.reserved_concurrency` (`PutFunctionConcurrency` stores it as given)."""
    value = getattr(function, "reserved_concurrency", None)
    return None if value is None else int(value)


class Pool:
    """The account's concurrency: units in flight per function, and what was throttled."""

    def __init__(self, account: int) -> None:
        if account < 1:
            raise ValueError(f"The account's concurrency must be at least 1, not {account}")
        self.account = account
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self._throttles: Counter[tuple[str, str]] = Counter()
        self._admitted: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()
        self._releases = 0
        self._listeners: list[Callable[[], None]] = []

    def acquire(self, function_name: str, reserved: Mapping[str, int], invocation_type: str = SYNCHRONOUS) -> None:
        """Take a unit for one invocation of `function_name`, or raise `Throttled` (and count it).

        `reserved` is every function's reserved concurrency (name -> units) at this moment, so a
        `PutFunctionConcurrency` applies from the next invocation on, as in Lambda. `ValueError` when
        the reservations exceed the account's concurrency.
        """
        with self._lock:
            reason = self._refusal(function_name, reserved)
            if reason is not None:
                self._throttles[(function_name, invocation_type)] += 1
                raise Throttled(function_name, reason)
            self._in_flight[function_name] += 1
            self._admitted[function_name] += 1
            self._peak[function_name] = max(self._peak[function_name], self._in_flight[function_name])

    def _refusal(self, function_name: str, reserved: Mapping[str, int]) -> str | None:
        own = reserved.get(function_name)
        if own is not None:
            return RESERVED_REASON if self._in_flight[function_name] >= own else None
        unreserved = self.account - sum(reserved.values())
        if unreserved < 0:
            raise ValueError(
                f"The functions reserve {sum(reserved.values())} units, more than the local account's "
                f"{self.account} ({ACCOUNT_CONCURRENCY_VARIABLE})"
            )
        shared = sum(n for name, n in self._in_flight.items() if name not in reserved)
        return ACCOUNT_REASON if shared >= unreserved else None

    def release(self, function_name: str) -> None:
        with self._lock:
            self._in_flight[function_name] -= 1
            self._releases += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    @contextmanager
    def unit(
        self, function_name: str, reserved: Mapping[str, int], invocation_type: str = SYNCHRONOUS
    ) -> Iterator[None]:
        """Hold a unit for the block (see `acquire`)."""
        self.acquire(function_name, reserved, invocation_type)
        try:
            yield
        finally:
            self.release(function_name)

    @property
    def releases(self) -> int:
        """How many units were given back so far (a throttled caller may wait for this to change)."""
        with self._lock:
            return self._releases

    def in_flight(self) -> int:
        with self._lock:
            return sum(self._in_flight.values())

    def on_release(self, listener: Callable[[], None]) -> None:
        """Call `listener` (without arguments, outside the pool's lock) whenever a unit is given back."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def counts(self) -> Counts:
        with self._lock:
            return Counts(Counter(self._throttles), Counter(self._admitted), Counter(self._peak))


def account_concurrency_from_environment() -> int:
    """`CUSTODY_LOCAL_ACCOUNT_CONCURRENCY`, else Lambda's default quota; `ValueError` if not a positive integer."""
    raw = os.environ.get(ACCOUNT_CONCURRENCY_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_ACCOUNT_CONCURRENCY
    value = int(raw)
    if value < 1:
        raise ValueError(f"{ACCOUNT_CONCURRENCY_VARIABLE} must be a positive integer, not {raw!r}")
    return value


def reservations(function: Any) -> dict[str, int]:
    """The reserved concurrency of every function in moto's `function`'s account and Region."""
    from moto.awslambda.models import lambda_backends

    found: dict[str, int] = {}
    for other in lambda_backends[function.account_id][function.region].list_functions():
        units = _reservation(other)
        if units is not None:
            found[other.function_name] = units
    return found


class _Current:
    lock = threading.Lock()
    pool: Pool | None = None


class _Kind(threading.local):
    invocation_type: str = SYNCHRONOUS


_KIND: Final = _Kind()


@contextmanager
def invoked_as(invocation_type: str) -> Iterator[None]:
    """Invocations this thread makes in the block are of `invocation_type` (the async queue's are `Event`)."""
    saved, _KIND.invocation_type = _KIND.invocation_type, invocation_type
    try:
        yield
    finally:
        _KIND.invocation_type = saved


def invocation_type() -> str:
    """The type of the invocations this thread makes now (`RequestResponse` unless `invoked_as` says otherwise)."""
    return _KIND.invocation_type


def install(account: int | None = None) -> Pool:
    """The process's pool (`devstack.patches.install` makes it; a second install keeps the first)."""
    with _Current.lock:
        if _Current.pool is None:
            _Current.pool = Pool(account or account_concurrency_from_environment())
        return _Current.pool


def uninstall() -> None:
    with _Current.lock:
        _Current.pool = None


def current() -> Pool:
    """The installed pool; `RuntimeError` when moto is not patched (no local stack)."""
    pool = _Current.pool
    if pool is None:
        raise RuntimeError("No local Lambda concurrency: devstack.patches is not installed")
    return pool


def counts() -> Counts:
    """What the installed pool counted since it was installed (see `Counts`)."""
    return current().counts()


@contextmanager
def account_limit(units: int) -> Iterator[Pool]:
    """Emulate an account of `units` concurrency for the block (the pool's counts carry on)."""
    pool = current()
    if units < 1:
        raise ValueError(f"The account's concurrency must be at least 1, not {units}")
    saved, pool.account = pool.account, units
    try:
        yield pool
    finally:
        pool.account = saved
