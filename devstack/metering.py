"""Counting, never timing: AWS calls through botocore's event hooks (`counting_calls`), and what the
local stack's limits did (`burst_counts`: throttles, retries, status-change events)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from custody.platform import aws


@contextmanager
def counting_calls(*services: str, this_thread_only: bool = False) -> Iterator[Counter[str]]:
    """`service.Operation` → calls made through `custody.platform.aws.clients` for these services.

    `this_thread_only` leaves out the calls of other threads (the workflow's in-process Lambdas).
    """
    counted: Counter[str] = Counter()
    me = threading.get_ident()

    def record(event_name: str, **_: Any) -> None:
        if this_thread_only and threading.get_ident() != me:
            return
        service, operation = event_name.split(".", 2)[1:]
        counted[f"{service}.{operation}"] += 1

    built = [getattr(aws.clients, service)() for service in services]
    for client in built:
        client.meta.events.register("before-call", record)
    try:
        yield counted
    finally:
        for client in built:
            client.meta.events.unregister("before-call", record)


@dataclass(frozen=True)
class BurstCounts:
    """What the local stack's limits did, for burst tests and benchmarks (counts, never timings).

    Take one before and one after, and subtract: `after - before` (peaks are the later snapshot's).
    """

    lambda_throttles: Counter[tuple[str, str]]  # (function name, invocation type) -> throttled invocations
    lambda_admitted: Counter[str]  # function name -> invocations that ran
    lambda_peak: Counter[str]  # function name -> most invocations in flight at once (since start)
    async_throttled: Counter[str]  # function name -> throttled tries of queued Event invocations
    async_given_up: int  # Event invocations given up (errors past their retries, or too old)
    sfn_retries: Counter[str]  # error name -> retries a `Retry` granted
    sfn_exhausted: Counter[str]  # error name -> errors whose retrier had no attempt left
    sfn_history_limited: int  # executions failed by the 25,000-event history quota
    status_events: Counter[str]  # execution status -> "Step Functions Execution Status Change" events sent
    rule_matches: Counter[str]  # rule name -> events the local default bus matched to it
    undelivered: int  # matched events EventBridge could not hand to a target

    @property
    def total_lambda_throttles(self) -> int:
        return sum(self.lambda_throttles.values())

    def __sub__(self, earlier: BurstCounts) -> BurstCounts:
        return BurstCounts(
            self.lambda_throttles - earlier.lambda_throttles,
            self.lambda_admitted - earlier.lambda_admitted,
            Counter(self.lambda_peak),
            self.async_throttled - earlier.async_throttled,
            self.async_given_up - earlier.async_given_up,
            self.sfn_retries - earlier.sfn_retries,
            self.sfn_exhausted - earlier.sfn_exhausted,
            self.sfn_history_limited - earlier.sfn_history_limited,
            self.status_events - earlier.status_events,
            self.rule_matches - earlier.rule_matches,
            self.undelivered - earlier.undelivered,
        )


def burst_counts() -> BurstCounts:
    """A snapshot of `BurstCounts` in this process (the local stack must be running in it: `RuntimeError` else)."""
    from devstack import asynchronous, concurrency, eventbridge, stepfunctions

    pool = concurrency.counts()
    bus = eventbridge.current()
    return BurstCounts(
        lambda_throttles=pool.throttles,
        lambda_admitted=pool.admitted,
        lambda_peak=pool.peak,
        async_throttled=asynchronous.throttled(),
        async_given_up=len(asynchronous.given_up()),
        sfn_retries=stepfunctions.retries(),
        sfn_exhausted=stepfunctions.exhausted(),
        sfn_history_limited=stepfunctions.history_limited(),
        status_events=stepfunctions.status_events(),
        rule_matches=bus.matched() if bus is not None else Counter(),
        undelivered=len(bus.undelivered()) if bus is not None else 0,
    )
