"""Seeded AWS faults for the functions' own clients, through each client's botocore event system.

`FaultInjector(FaultPlan(seed=…, rate=…)).active()` makes a chosen share of the AWS calls that
`custody.platform.aws.clients` make fail, the way AWS fails:

* throttling (`ThrottlingException`, DynamoDB's `ProvisionedThroughputExceededException`,
  S3's `SlowDown`, Cognito's `TooManyRequestsException`, SNS's `Throttling`);
* a 500 (`InternalServerError`, `InternalError`, `KMSInternalException`, …);
* a read timeout or a connection that cannot be made (`ReadTimeoutError`,
  `EndpointConnectionError`);
* a partial batch: `BatchWriteItem` answers some of its requests as `UnprocessedItems` (and does
  not perform them), `DeleteObjects` answers some of its keys as `Errors` (and does not delete
  them).

Where it sits: the error responses and timeouts are injected at `before-send`, *below*
botocore's retry loop, exactly where a real HTTP exchange would fail. botocore's own retries
(the project's adaptive mode, 4 attempts) therefore see them as they would see AWS's, and only
a fault that repeats on every attempt escapes to the code — which is what production code must
survive. A faulted call never reaches the service (moto's stubber, or the served moto over HTTP):
the handler is wrapped around the client's emitter and answers first. Partial batches are not
retried by botocore at all (the call succeeded); they are rewritten at `before-parameter-build`
(withheld requests are removed) and `after-call` (and reported back as unprocessed).

`crash` stops a chosen Lambda step at its n-th AWS call with `SimulatedCrash` — the in-process
Lambda "killed" mid-batch: the calls before it took effect, the rest never happen.

botocore's retry sleeps and the adaptive mode's client-side rate limiter are made instant while
a plan is active (time only: the number of attempts and the retry decisions are botocore's own).

What it cannot simulate (see docs/robustness.md): a request that AWS performed but whose answer
was lost, latency, a Lambda that is killed by its timeout rather than by an exception, faults of
the calls moto's Step Functions interpreter makes itself (Lambda, SQS and SNS integrations).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from moto.core.botocore_stubber import MockRawResponse

from custody.platform import aws
from devstack import runtime


class Fault(StrEnum):
    THROTTLE = "throttle"
    SERVER_ERROR = "server_error"
    READ_TIMEOUT = "read_timeout"
    CONNECT_ERROR = "connect_error"
    PARTIAL_BATCH = "partial_batch_write"
    PARTIAL_DELETE = "partial_delete_objects"


TRANSPORT_FAULTS: Final = (Fault.THROTTLE, Fault.SERVER_ERROR, Fault.READ_TIMEOUT, Fault.CONNECT_ERROR)
ALL_FAULTS: Final = (*TRANSPORT_FAULTS, Fault.PARTIAL_BATCH, Fault.PARTIAL_DELETE)

# (status, error code) per service for a throttle and for a 500, as each service reports them.
_THROTTLE: Final = {
    "dynamodb": (400, "ProvisionedThroughputExceededException"),
    "s3": (503, "SlowDown"),
    "cognito-idp": (400, "TooManyRequestsException"),
    "sns": (400, "Throttling"),
}
_SERVER_ERROR: Final = {
    "dynamodb": (500, "InternalServerError"),
    "s3": (500, "InternalError"),
    "kms": (500, "KMSInternalException"),
    "cognito-idp": (500, "InternalErrorException"),
    "sns": (500, "InternalError"),
}
_WITHHELD: Final = "custody_fault_withheld"


class SimulatedCrash(Exception):
    """The in-process Lambda stopped here (a crash injected by `FaultPlan.crash`)."""


@dataclass(frozen=True)
class Crash:
    """Stop `function`'s `step` (the event's "step", or None for any) at its `at_call`-th AWS call."""

    function: str
    step: str | None
    at_call: int


@dataclass(frozen=True)
class FaultPlan:
    seed: int
    rate: float = 0.0  # share of calls that get a transport fault (throttle, 500, timeout)
    partial_rate: float = 0.0  # share of BatchWriteItem / DeleteObjects calls answered in part
    faults: tuple[Fault, ...] = ALL_FAULTS
    services: frozenset[str] | None = None  # botocore service names; None = every service
    crash: Crash | None = None


@dataclass
class FaultLog:
    calls: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    calls_by_step: Counter[str] = field(default_factory=Counter)
    crashed: bool = False

    @property
    def total(self) -> int:
        return sum(self.injected.values())


class _Current(threading.local):
    target: tuple[str, str | None] | None = None
    calls: int = 0


def _function_of(spec: runtime.FunctionSpec) -> str:
    return spec.handler.split(".", 1)[0]


class FaultInjector:
    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.log = FaultLog()
        self.enabled = True
        self._random = random.Random(plan.seed)  # noqa: S311 - reproducible faults, not secrets
        self._lock = threading.Lock()
        self._current = _Current()
        self._crash_pending = plan.crash is not None

    # --- decisions ------------------------------------------------------------------------

    def _roll(self, rate: float) -> bool:
        with self._lock:
            return self._random.random() < rate

    def _choose(self, options: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._random.choice(options)

    def _applies(self, service: str) -> bool:
        return self.enabled and (self.plan.services is None or service in self.plan.services)

    def _record(self, fault: Fault, operation: str) -> None:
        with self._lock:
            self.log.injected[fault.value] += 1
            self.log.by_operation[f"{operation}:{fault.value}"] += 1

    # --- the hooks --------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        """Wrap this client's event emitter (the same object its endpoint emits through)."""
        events = client.meta.events
        if getattr(events, "_custody_faults", None) is self:
            return
        original: Callable[..., list[tuple[Any, Any]]] = events.emit
        service: str = client.meta.service_model.service_name
        protocol: str = client.meta.service_model.protocol

        def emit(event_name: str, **kwargs: Any) -> list[tuple[Any, Any]]:
            kind, _, rest = event_name.partition(".")
            operation = rest.rpartition(".")[2]
            if kind == "before-send":
                injected = self._before_send(service, protocol, operation, kwargs["request"])
                if injected is not None:
                    return [(emit, injected)]
            elif kind == "before-parameter-build":
                self._withhold(service, operation, kwargs["params"], kwargs.get("context"))
            elif kind == "after-call":
                self._report_withheld(operation, kwargs.get("parsed"), kwargs.get("context"))
            return original(event_name, **kwargs)

        events.emit = emit
        events._custody_faults = self

    def _before_send(self, service: str, protocol: str, operation: str, request: Any) -> AWSResponse | None:
        if not self.enabled:
            return None
        self._crash_if_due(service, operation)
        with self._lock:
            self.log.calls += 1
        transport = tuple(fault for fault in self.plan.faults if fault in TRANSPORT_FAULTS)
        if not transport or not self._applies(service) or not self._roll(self.plan.rate):
            return None
        fault: Fault = self._choose(transport)
        self._record(fault, f"{service}.{operation}")
        if fault is Fault.READ_TIMEOUT:
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault is Fault.CONNECT_ERROR:
            raise EndpointConnectionError(endpoint_url=request.url)
        table = _THROTTLE if fault is Fault.THROTTLE else _SERVER_ERROR
        default = (400, "ThrottlingException") if fault is Fault.THROTTLE else (500, "InternalFailure")
        status, code = table.get(service, default)
        return _error_response(request.url, protocol, status, code)

    def _crash_if_due(self, service: str, operation: str) -> None:
        crash, current = self.plan.crash, self._current
        if current.target is None:
            return
        with self._lock:
            self.log.calls_by_step[f"{current.target[0]}:{current.target[1]}"] += 1
        if not self._crash_pending or crash is None:
            return
        function, step = current.target
        if function != crash.function or (crash.step is not None and step != crash.step):
            return
        current.calls += 1
        if current.calls == crash.at_call:
            self._crash_pending = False
            self.log.crashed = True
            raise SimulatedCrash(f"{function}:{step} stopped at AWS call {crash.at_call} ({service}.{operation})")

    def _withhold(self, service: str, operation: str, params: dict[str, Any], context: Any) -> None:
        if not isinstance(context, dict) or not self._applies(service):
            return
        if operation == "BatchWriteItem" and Fault.PARTIAL_BATCH in self.plan.faults:
            tables = params.get("RequestItems") or {}
            flat = [(table, item) for table, items in tables.items() for item in items]
            if len(flat) < 2 or not self._roll(self.plan.partial_rate):
                return
            withheld = self._subset(flat)
            for table, item in withheld:
                tables[table].remove(item)
            for table in [name for name, items in tables.items() if not items]:
                del tables[table]
            context[_WITHHELD] = ("dynamodb", withheld)
            self._record(Fault.PARTIAL_BATCH, "dynamodb.BatchWriteItem")
        elif operation == "DeleteObjects" and Fault.PARTIAL_DELETE in self.plan.faults:
            objects = (params.get("Delete") or {}).get("Objects") or []
            if len(objects) < 2 or not self._roll(self.plan.partial_rate):
                return
            withheld_objects = self._subset(list(objects))
            for item in withheld_objects:
                objects.remove(item)
            context[_WITHHELD] = ("s3", withheld_objects)
            self._record(Fault.PARTIAL_DELETE, "s3.DeleteObjects")

    def _subset(self, items: list[Any]) -> list[Any]:
        """Between one and all but one of `items`: the call still sends something."""
        with self._lock:
            count = self._random.randint(1, len(items) - 1)
            return self._random.sample(items, count)

    @staticmethod
    def _report_withheld(operation: str, parsed: Any, context: Any) -> None:
        if not isinstance(context, dict) or _WITHHELD not in context or not isinstance(parsed, dict):
            return
        service, withheld = context.pop(_WITHHELD)
        if service == "dynamodb":
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            for table, item in withheld:
                unprocessed.setdefault(table, []).append(item)
        else:
            errors = parsed.setdefault("Errors", [])
            for item in withheld:
                entry = {"Key": item["Key"], "Code": "InternalError", "Message": "We encountered an internal error."}
                if item.get("VersionId"):
                    entry["VersionId"] = item["VersionId"]
                errors.append(entry)

    # --- where it applies -------------------------------------------------------------------

    @contextmanager
    def active(self) -> Iterator[FaultLog]:
        """Fault the functions' clients (`custody.platform.aws.clients`) until the block ends."""
        injector = self
        original_cached = aws.Clients._cached
        original_invoke = runtime.invoke

        def cached(clients: aws.Clients, name: str, build: Callable[[Any, str], Any]) -> Any:
            client = original_cached(clients, name, build)
            injector.attach(client)
            return client

        def invoke(spec: runtime.FunctionSpec, event: Any) -> runtime.Invocation:
            step = event.get("step") if isinstance(event, dict) else None
            current = injector._current
            saved = (current.target, current.calls)
            current.target, current.calls = (_function_of(spec), step if isinstance(step, str) else None), 0
            try:
                return original_invoke(spec, event)
            finally:
                current.target, current.calls = saved

        with instant_retries():
            aws.Clients._cached = cached  # type: ignore[method-assign,assignment]
            runtime.invoke = invoke
            aws.reset_clients()
            try:
                yield self.log
            finally:
                self.enabled = False  # a client some other `Clients` built keeps its wrapper: make it inert
                aws.Clients._cached = original_cached  # type: ignore[method-assign]
                runtime.invoke = original_invoke
                aws.reset_clients()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No faults inside the block (the test's own checks run through the same clients)."""
        saved = self.enabled
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = saved


def _error_response(url: str, protocol: str, status: int, code: str) -> AWSResponse:
    message = "Injected by devstack.faults"
    headers: dict[str, str]
    if protocol in ("json", "rest-json"):
        body = f'{{"__type": "{code}", "message": "{message}"}}'
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}
    elif protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>devstack-faults</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml"}
    else:  # rest-xml (S3)
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>devstack-faults</RequestId></Error>"
        headers = {"Content-Type": "application/xml"}
    return AWSResponse(url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


class _NoSleep:
    """Stands in for `time` in botocore's endpoint: retry delays become instant."""

    @staticmethod
    def sleep(_: float) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)


@contextmanager
def instant_retries() -> Iterator[None]:
    from botocore import endpoint
    from botocore.retries import bucket

    saved_time = getattr(endpoint, "time")  # noqa: B009 - botocore's module-level `time`, untyped
    saved_acquire = bucket.TokenBucket.acquire
    setattr(endpoint, "time", _NoSleep())  # noqa: B010
    bucket.TokenBucket.acquire = _acquire_at_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        setattr(endpoint, "time", saved_time)  # noqa: B010
        bucket.TokenBucket.acquire = saved_acquire  # type: ignore[method-assign]


def _acquire_at_once(self: Any, amount: int = 1, block: bool = True) -> bool:
    return True
