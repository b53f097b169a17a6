"""Lambda's asynchronous invocation (`InvocationType=Event`), locally.

moto runs an Event invocation synchronously inside the caller's `Invoke` (moto 5.2.5,
`LambdaFunction.invoke`): a function that starts another one asynchronously would wait for it,
and - the local runtime running one invocation at a time - wait on itself until
`DevstackRuntimeBusy`. `devstack.patches` routes Event invocations here instead:

* `Invoke` answers at once (202, empty payload) as Lambda's queue does; a `DryRun` answers 204
  without running anything (Lambda only validates it). The caller's `lambda:InvokeFunction` is
  checked before, by devstack.iam, like any call.
* One worker thread runs the queued events through `devstack.runtime` (the function's own
  environment and role), each once the runtime is free: after the invocation that queued it ends.
* A function error (an exception, a timeout) is retried up to the function's `MaximumRetryAttempts`
  (its event invoke config, `catalog.ASYNC_INVOKE`; Lambda's default 2 without one), one minute after
  the first attempt and two minutes after the second, times the devstack's `time_scale` (0 in tests:
  at once). An event whose retry would come later than its `MaximumEventAgeInSeconds` (default 21600)
  is given up instead. Source: Lambda developer guide, "How Lambda handles errors and retries with
  asynchronous invocation".
* A throttled attempt (the function's concurrency is spent: `devstack.concurrency`) is no attempt:
  the event goes back to the queue and is tried again 1 second later, then 2, 4... up to 5 minutes
  between tries (times `time_scale`), for as long as its age allows. Source: the same page ("For
  throttling errors (429) and system errors (500-series), Lambda returns the event to the queue and
  attempts to run the function again for up to 6 hours by default. The retry interval increases
  exponentially from 1 second after the first attempt to a maximum of 5 minutes."). Locally a
  throttled event is also not tried again before some invocation has given its unit back (unless
  none is in flight), so a `time_scale` of 0 does not spin through its age in a moment.
* What is given up is logged (function and request ids, never the event) and kept in `given_up()`;
  `throttled()` counts the throttled tries per function.

How faithful: the delays and retry counts are Lambda's; its age counts the scheduled delays only, not
the attempts' own run time; Lambda's at-least-once duplicates and its slowing down of a long queue
are not reproduced; one invocation runs at a time (the runtime is serialised); no dead-letter queue
or destination receives a given-up event (none is provisioned locally).

Tests wait for the queue with `wait_for_async(timeout)`, which raises `AsyncInvocationsPending` when
an event is still queued or running after `timeout` seconds.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from devstack import concurrency

LOG = logging.getLogger("devstack.lambda.async")

DEFAULT_RETRY_ATTEMPTS: Final = 2
DEFAULT_MAX_EVENT_AGE_SECONDS: Final = 21_600
RETRY_DELAYS_SECONDS: Final = (60.0, 120.0)  # before the first and the second retry
THROTTLE_FIRST_DELAY_SECONDS: Final = 1.0  # then doubling...
THROTTLE_MAX_DELAY_SECONDS: Final = 300.0  # ...up to five minutes
_THROTTLED: Final = "TooManyRequestsException"
STOP_GRACE_SECONDS: Final = 30.0


class AsyncInvocationsPending(TimeoutError):
    """Asynchronous invocations were still queued or running when the wait ended."""


@dataclass(frozen=True)
class GivenUp:
    """An event Lambda would have given up on: every attempt failed, or it grew too old to retry."""

    function_name: str
    attempts: int
    error_type: str


@dataclass(order=True)
class _Event:
    due: float
    order: int
    function: Any = field(compare=False)  # moto's LambdaFunction
    payload: Any = field(compare=False)
    attempts: int = field(default=0, compare=False)
    age_seconds: float = field(default=0.0, compare=False)  # the retry delays scheduled so far, unscaled
    throttles: int = field(default=0, compare=False)
    releases_when_throttled: int | None = field(default=None, compare=False)


def _event_invoke_config(function: Any) -> tuple[int, int]:
    """(MaximumRetryAttempts, MaximumEventAgeInSeconds) of moto's function, Lambda's defaults where unset."""
    configs = getattr(function, "event_invoke_config", None) or []
    config = configs[0].config if configs else {}
    return (
        int(config.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)),
        int(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS)),
    )


class AsyncInvoker:
    """The queue of Event invocations and the thread that runs them (`time_scale` scales retry delays)."""

    def __init__(self, time_scale: float, pool: concurrency.Pool | None = None) -> None:
        """`pool`: the concurrency whose releases a throttled event waits for (none: it does not wait)."""
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.time_scale = time_scale
        self.pool = pool
        self._changed = threading.Condition()
        self._queue: list[_Event] = []
        self._order = itertools.count()
        self._running = 0
        self._stopped = False
        self._given_up: list[GivenUp] = []
        self._throttled: Counter[str] = Counter()
        if pool is not None:
            pool.on_release(self._wake)
        self._thread = threading.Thread(target=self._work, name="devstack-lambda-async", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def submit(self, function: Any, payload: Any) -> None:
        """Queue one event for `function` (moto's LambdaFunction); returns at once."""
        with self._changed:
            if self._stopped:
                raise RuntimeError("The local asynchronous invoker is stopped")
            heapq.heappush(self._queue, _Event(time.monotonic(), next(self._order), function, payload))
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Return when no event is queued or running; raise `AsyncInvocationsPending` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._queue or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AsyncInvocationsPending(
                        f"{len(self._queue)} queued and {self._running} running asynchronous invocation(s) "
                        f"after {timeout:g} s"
                    )
                self._changed.wait(remaining)

    def given_up(self) -> tuple[GivenUp, ...]:
        with self._changed:
            return tuple(self._given_up)

    def throttled(self) -> Counter[str]:
        """Throttled tries per function name since the invoker started."""
        with self._changed:
            return Counter(self._throttled)

    def stop(self, timeout: float = STOP_GRACE_SECONDS) -> int:
        """Drop what is queued, let the running invocation end (up to `timeout` s); return how many were dropped."""
        with self._changed:
            self._stopped = True
            dropped = len(self._queue)
            self._queue.clear()
            self._changed.notify_all()
        self._thread.join(timeout)
        if self.pool is not None:
            self.pool.remove_listener(self._wake)
        if dropped:
            LOG.warning("Stopped with %d asynchronous invocation(s) never run", dropped)
        return dropped

    def _ready(self, event: _Event) -> bool:
        """A throttled event waits for a unit to be given back, unless nothing is in flight."""
        if event.releases_when_throttled is None or self.pool is None:
            return True
        return self.pool.releases != event.releases_when_throttled or self.pool.in_flight() == 0

    def _next(self) -> _Event | None:
        with self._changed:
            while not self._stopped:
                now = time.monotonic()
                due = sorted(event for event in self._queue if event.due <= now)
                ready = next((event for event in due if self._ready(event)), None)
                if ready is not None:
                    self._queue.remove(ready)
                    heapq.heapify(self._queue)
                    self._running += 1
                    return ready
                later = [event.due - now for event in self._queue if event.due > now]
                self._changed.wait(min(later) if later else None)
            return None

    def _work(self) -> None:
        while (event := self._next()) is not None:
            try:
                error_type = self._attempt(event)
            except Exception as error:  # the backend went away under it; never kill the worker
                LOG.exception("Asynchronous invocation of %s failed to run", event.function.function_name)
                error_type = type(error).__name__
            with self._changed:
                self._running -= 1
                if error_type is not None:
                    self._after_failure(event, error_type)
                self._changed.notify_all()

    def _attempt(self, event: _Event) -> str | None:
        """One attempt through the patched `_invoke_lambda` (the runtime, and the function's logs)."""
        try:
            with concurrency.invoked_as(concurrency.ASYNCHRONOUS):
                payload, errored, _ = event.function._invoke_lambda(event=event.payload)
        except concurrency.Throttled:
            return _THROTTLED
        event.attempts += 1
        if not errored:
            return None
        try:
            return str(json.loads(payload).get("errorType") or "Unhandled")
        except (ValueError, AttributeError):
            return "Unhandled"

    def _after_failure(self, event: _Event, error_type: str) -> None:
        retries, max_age = _event_invoke_config(event.function)
        name = event.function.function_name
        if error_type == _THROTTLED:
            self._after_throttle(event, max_age)
            return
        if event.attempts <= retries and not self._stopped:
            delay = RETRY_DELAYS_SECONDS[min(event.attempts, len(RETRY_DELAYS_SECONDS)) - 1]
            if event.age_seconds + delay <= max_age:
                event.age_seconds += delay
                event.due = time.monotonic() + delay * self.time_scale
                heapq.heappush(self._queue, event)
                LOG.info("%s: attempt %d failed (%s), retried in %g s", name, event.attempts, error_type, delay)
                return
        self._given_up.append(GivenUp(name, event.attempts, error_type))
        LOG.warning("%s: asynchronous event given up after %d attempt(s) (%s)", name, event.attempts, error_type)

    def _after_throttle(self, event: _Event, max_age: int) -> None:
        name = event.function.function_name
        self._throttled[name] += 1
        event.throttles += 1
        delay = min(THROTTLE_FIRST_DELAY_SECONDS * 2 ** (event.throttles - 1), THROTTLE_MAX_DELAY_SECONDS)
        if self._stopped or event.age_seconds + delay > max_age:
            self._given_up.append(GivenUp(name, event.attempts, _THROTTLED))
            LOG.warning("%s: asynchronous event given up, throttled past its maximum age", name)
            return
        event.age_seconds += delay
        event.due = time.monotonic() + delay * self.time_scale
        event.releases_when_throttled = self.pool.releases if self.pool is not None else None
        heapq.heappush(self._queue, event)


class _Current:
    lock = threading.Lock()
    invoker: AsyncInvoker | None = None


def start(time_scale: float) -> AsyncInvoker:
    """The process's invoker (`devstack.patches.install` starts it after the concurrency pool; a second
    start keeps the first)."""
    with _Current.lock:
        if _Current.invoker is None:
            _Current.invoker = AsyncInvoker(time_scale, concurrency.current())
        return _Current.invoker


def stop() -> int:
    """Stop the process's invoker (`devstack.patches.uninstall`); the number of events dropped."""
    with _Current.lock:
        invoker, _Current.invoker = _Current.invoker, None
    return invoker.stop() if invoker is not None else 0


def current() -> AsyncInvoker:
    """The running invoker; raises `RuntimeError` when moto is not patched (no local stack)."""
    invoker = _Current.invoker
    if invoker is None:
        raise RuntimeError("No local asynchronous invoker: devstack.patches is not installed")
    return invoker


def wait_for_async(timeout: float = 60.0) -> None:
    """Wait until no asynchronous invocation is queued, due for a retry or running.

    Raises `AsyncInvocationsPending` after `timeout` seconds, `RuntimeError` without a local stack.
    Call it from test code, never from inside a function (the worker needs the runtime it holds).
    """
    current().wait(timeout)


def given_up() -> tuple[GivenUp, ...]:
    """The events given up on since the invoker started, oldest first."""
    return current().given_up()


def throttled() -> Counter[str]:
    """Throttled tries of asynchronous events per function name since the invoker started."""
    return current().throttled()
