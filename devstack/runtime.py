"""The in-process Lambda runtime: the one code path that runs a function locally.

Both moto's Lambda (the patched `LambdaFunction._invoke_lambda`, which Step Functions tasks and
`lambda:Invoke` reach) and the local API gateway call `invoke()`. It imports the function's
handler from `functions/` (the handler path of `custody.declared.catalog`), applies the function's
environment variables plus the variables the Lambda runtime sets, runs the handler under a
re-entrant lock and returns what Lambda returns: the JSON payload, or on an exception the
`{"errorMessage", "errorType", "requestId", "stackTrace"}` payload with a function error, so
a state machine's `Retry`/`Catch` see the exception's class name as the error name. A response
payload over Lambda's 6 MB is a `Function.ResponseSizeTooLarge` function error, as in AWS (the
local gateway answers it 502, as API Gateway does).

What a function prints (its logs, Powertools' EMF metrics) goes, as in Lambda, to its
CloudWatch Logs stream rather than to the terminal, once `capture_output()` routed this
process's stdout and stderr (the served stack does; tests leave them to pytest).

Invocations are serialised (one lock for the process): environment variables are process-wide,
so two functions cannot run with their own environments at the same time. A function that
synchronously waits on another function's invocation would therefore wait for the lock; the
wait is bounded and reported as a `DevstackRuntimeBusy` function error rather than a hang.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Final, TextIO, cast

from custody.platform.paging import LAMBDA_RESPONSE_LIMIT_BYTES
from devstack.paths import FUNCTIONS_DIR, ensure_functions_importable

LOG = logging.getLogger("devstack.lambda")

LAMBDA_RUNTIME: Final = "python3.13"
BUSY_GRACE_SECONDS: Final = 60.0

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to know about a deployed function (its Lambda configuration)."""

    function_name: str
    handler: str  # "<module path>.<attribute>", e.g. "collect.handler.lambda_handler"
    environment: Mapping[str, str]
    arn: str
    region: str
    memory_mb: int = 128
    timeout_seconds: int = 3
    version: str = "$LATEST"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome, as the Lambda service reports it."""

    request_id: str
    payload: bytes
    error_type: str | None  # set when the handler raised: Lambda's `FunctionError: Unhandled`
    duration_ms: float
    output: str = ""  # what the function printed, when output is captured

    @property
    def errored(self) -> bool:
        return self.error_type is not None

    def result(self) -> Any:
        return json.loads(self.payload)

    def log_lines(self, spec: FunctionSpec) -> list[str]:
        """What Lambda writes to CloudWatch Logs: the platform lines (ids, timings, never the payload)
        around what the function printed."""
        lines = [f"START RequestId: {self.request_id} Version: {spec.version}"]
        lines.extend(line for line in self.output.splitlines() if line.strip())
        if self.error_type is not None:
            lines.append(f"[ERROR] {self.error_type} RequestId: {self.request_id}")
        lines.append(f"END RequestId: {self.request_id}")
        lines.append(
            f"REPORT RequestId: {self.request_id}\tDuration: {self.duration_ms:.2f} ms\t"
            f"Memory Size: {spec.memory_mb} MB"
        )
        return lines


@dataclass
class LocalLambdaContext:
    """The context object Lambda passes to a handler (the attributes Powertools reads)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float = field(repr=False)
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))

    @classmethod
    def for_call(cls, function: str, timeout_seconds: float = 29.0) -> LocalLambdaContext:
        """A context for calling a handler directly (tests, benchmarks), outside the runtime."""
        request_id = str(uuid.uuid4())
        return cls(
            function_name=function,
            function_version="$LATEST",
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
            memory_limit_in_mb=512,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{function}",
            log_stream_name=request_id,
            deadline=time.monotonic() + timeout_seconds,
        )


@dataclass
class _RuntimeState:
    endpoint_url: str | None = None
    fingerprint: tuple[tuple[str, str], ...] | None = None
    added: set[str] = field(default_factory=set)


_LOCK: Final = threading.RLock()
_STATE: Final = _RuntimeState()
# The invocation running on this thread and the seconds it spent parked in `others_may_run` (a test's
# hold is not time the function ran: it does not count against its timeout).
_RUNNING: Final = threading.local()

# Context managers entered around every invocation's handler, given its spec (devstack.iam
# makes the function's calls its role's).
InvocationHook = Callable[[FunctionSpec], AbstractContextManager[None]]
_HOOKS: Final[list[InvocationHook]] = []


def add_invocation_hook(hook: InvocationHook) -> None:
    with _LOCK:
        _HOOKS.append(hook)


def remove_invocation_hook(hook: InvocationHook) -> None:
    with _LOCK:
        _HOOKS.remove(hook)


class _ThreadRoutedStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: a thread inside an invocation writes to that
    invocation's buffer, every other thread to the real stream."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.local = threading.local()

    def _target(self) -> TextIO:
        buffer: io.StringIO | None = getattr(self.local, "buffer", None)
        return buffer if buffer is not None else self.real

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.real.fileno()


_ROUTED: dict[str, _ThreadRoutedStream] = {}


def capture_output() -> None:
    """Route what functions print into their invocation's logs (idempotent; `release_output` undoes it)."""
    with _LOCK:
        if not _ROUTED:
            _ROUTED["stdout"] = _ThreadRoutedStream(sys.stdout)
            _ROUTED["stderr"] = _ThreadRoutedStream(sys.stderr)
            sys.stdout = _ROUTED["stdout"]
            sys.stderr = _ROUTED["stderr"]


def release_output() -> None:
    with _LOCK:
        if _ROUTED:
            sys.stdout = _ROUTED.pop("stdout").real
            sys.stderr = _ROUTED.pop("stderr").real


@contextmanager
def _captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    streams = list(_ROUTED.values())
    for stream in streams:
        stream.local.buffer = buffer
    try:
        yield buffer
    finally:
        for stream in streams:
            stream.local.buffer = None


def set_aws_endpoint(url: str | None) -> None:
    """Where functions' AWS clients go: the served moto endpoint, or None under `mock_aws`."""
    with _LOCK:
        _STATE.endpoint_url = url
        _STATE.fingerprint = None


def aws_endpoint() -> str | None:
    return _STATE.endpoint_url


def runtime_environment(spec: FunctionSpec, request_id: str) -> dict[str, str]:
    """The variables the Lambda runtime sets for every invocation, plus the local endpoint."""
    env = {
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{LAMBDA_RUNTIME}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "LAMBDA_TASK_ROOT": str(FUNCTIONS_DIR),
        "_X_AMZN_TRACE_ID": f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}",
        # There is no X-Ray daemon locally; the Tracer would only complain.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    endpoint = _STATE.endpoint_url
    if endpoint is not None:
        host_port = endpoint.split("://", 1)[-1]
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "MOTO_HTTP_ENDPOINT": endpoint,
                "MOTO_HOST": endpoint.rsplit(":", 1)[0],
                "MOTO_PORT": host_port.rsplit(":", 1)[-1],
            }
        )
    return env


@contextmanager
def _applied(variables: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration of an invocation, then put back the values that were there.

    A variable the process did not have is left in place afterwards rather than deleted:
    other threads (moto's Step Functions workers, urllib's proxy lookup, botocore) iterate
    `os.environ`, and a key deleted under them raises KeyError in the middle of their work.
    `forget_environment()` removes those variables once nothing runs any more.
    """
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                _STATE.added.add(name)
            else:
                os.environ[name] = value


def forget_environment() -> None:
    """Remove the variables invocations left behind (call when no invocation or worker runs)."""
    with _LOCK:
        for name in sorted(_STATE.added):
            os.environ.pop(name, None)
        _STATE.added.clear()


def _refresh_process_caches(spec: FunctionSpec) -> None:
    """Forget cached settings always, and cached clients when the function's world changed."""
    settings_module = importlib.import_module("custody.declared.settings")
    settings_module.get_settings.cache_clear()
    fingerprint = (*sorted(spec.environment.items()), ("AWS_ENDPOINT_URL", _STATE.endpoint_url or ""))
    if fingerprint != _STATE.fingerprint:
        reset_function_clients()
        _STATE.fingerprint = fingerprint


def reset_function_clients() -> None:
    """Drop the functions' cached boto3 clients (`custody.platform.aws.reset_clients`), if that module exists."""
    try:
        aws = importlib.import_module("custody.platform.aws")
    except ModuleNotFoundError:
        return
    reset = getattr(aws, "reset_clients", None)
    if callable(reset):
        reset()


@contextmanager
def others_may_run() -> Iterator[None]:
    """While the block runs, other invocations may run although the calling thread is inside one.

    For tests that park an invocation mid-way (tests/robustness/test_late_writes.py holds a request
    before one of its AWS writes while an erasure runs to its certificate): the runtime's lock is
    released as often as this thread holds it and taken back as often when the block ends, so the
    parked invocation goes on alone again. Its environment variables are put back as they were when
    it paused (others, parked too, may have resumed and ended in between), and the settings and
    clients the others cached are dropped, read afresh on next use.

    The time parked is the test's, not the function's: it is left out of the invocation's duration
    and its timeout (the context's remaining time is extended by it), as if the others had run in
    the instant between its read and its write. A hold longer than the function's timeout (a slow
    erasure on a loaded machine) must not end the request as `Sandbox.Timedout`.
    """
    environment = dict(os.environ)
    parked_at = time.monotonic()
    released = 0
    while True:
        try:
            _LOCK.release()
        except RuntimeError:  # not (or no longer) held by this thread
            break
        released += 1
    try:
        yield
    finally:
        for _ in range(released):
            _LOCK.acquire()
        parked = time.monotonic() - parked_at
        context = getattr(_RUNNING, "context", None)
        if context is not None:
            _RUNNING.paused += parked
            context.deadline += parked
        os.environ.update(environment)
        importlib.import_module("custody.declared.settings").get_settings.cache_clear()
        _STATE.fingerprint = None
        reset_function_clients()


def load_module(module_name: str) -> ModuleType:
    """Import a module of the Lambda asset root outside an invocation (e.g. to read its OpenAPI).

    Under the runtime's lock and with the tracer off, as an invocation would import it.
    """
    ensure_functions_importable()
    with _LOCK, _applied({"POWERTOOLS_TRACE_DISABLED": "true"}):
        return importlib.import_module(module_name)


def load_handler(handler_path: str) -> Handler:
    """Import `<module>.<attribute>` from the Lambda asset root (cached by `sys.modules`)."""
    ensure_functions_importable()
    module_name, _, attribute = handler_path.rpartition(".")
    if not module_name:
        raise ValueError(f"Handler path must be '<module>.<function>': {handler_path!r}")
    module = importlib.import_module(module_name)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise AttributeError(f"Handler {handler_path!r} is not a callable in {module.__name__}")
    return cast("Handler", handler)


def error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    """The body the Python Lambda runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }


def _failure(request_id: str, error_type: str, message: str, started: float) -> Invocation:
    body = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}
    return Invocation(request_id, json.dumps(body).encode(), error_type, (time.monotonic() - started) * 1000)


def invoke(spec: FunctionSpec, event: Any) -> Invocation:
    """Run the function's handler on `event` in this process, as Lambda would."""
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    if not _LOCK.acquire(timeout=spec.timeout_seconds + BUSY_GRACE_SECONDS):
        return _failure(
            request_id,
            "DevstackRuntimeBusy",
            "The local runtime runs one invocation at a time and another one did not finish in time.",
            started,
        )
    try:
        outcome = _invoke_locked(spec, event, request_id)
    finally:
        _LOCK.release()
    LOG.info(
        "%s %s %.0f ms%s",
        spec.function_name,
        request_id,
        outcome.duration_ms,
        f" {outcome.error_type}" if outcome.error_type else "",
    )
    return outcome


def _invoke_locked(spec: FunctionSpec, event: Any, request_id: str) -> Invocation:
    with _captured() as output:
        outcome = _run_handler(spec, event, request_id)
    return replace(outcome, output=output.getvalue()) if output.getvalue() else outcome


def _run_handler(spec: FunctionSpec, event: Any, request_id: str) -> Invocation:
    started = time.monotonic()
    variables = {**spec.environment, **runtime_environment(spec, request_id)}
    with _applied(variables):
        _refresh_process_caches(spec)
        context = LocalLambdaContext(
            function_name=spec.function_name,
            function_version=spec.version,
            invoked_function_arn=spec.arn,
            memory_limit_in_mb=spec.memory_mb,
            aws_request_id=request_id,
            log_group_name=spec.log_group,
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[{spec.version}]{request_id.replace('-', '')}",
            deadline=started + spec.timeout_seconds,
        )
        _RUNNING.context, _RUNNING.paused = context, 0.0
        try:
            handler = load_handler(spec.handler)
            with ExitStack() as hooks:
                for hook in list(_HOOKS):
                    hooks.enter_context(hook(spec))
                result = handler(event, context)
        except Exception as error:  # the Lambda runtime turns any exception into a function error
            body = error_payload(error, request_id)
            return Invocation(request_id, json.dumps(body).encode(), body["errorType"], _ran(started))
        finally:
            _RUNNING.context = None
    elapsed = _ran(started)
    if elapsed > spec.timeout_seconds * 1000:
        return _failure(
            request_id,
            "Sandbox.Timedout",
            f"Task timed out after {spec.timeout_seconds:.2f} seconds",
            started,
        )
    try:
        payload = json.dumps(result).encode()
    except (TypeError, ValueError) as error:
        return _failure(request_id, "Runtime.MarshalError", f"Unable to marshal response: {error}", started)
    if len(payload) > LAMBDA_RESPONSE_LIMIT_BYTES:
        return _failure(
            request_id,
            "Function.ResponseSizeTooLarge",
            f"Response payload size ({len(payload)} bytes) exceeded maximum allowed payload size "
            f"({LAMBDA_RESPONSE_LIMIT_BYTES} bytes).",
            started,
        )
    return Invocation(request_id, payload, None, elapsed)


def _elapsed(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _ran(started: float) -> float:
    """Milliseconds the invocation on this thread ran since `started`, its time parked excluded."""
    return _elapsed(started) - getattr(_RUNNING, "paused", 0.0) * 1000
