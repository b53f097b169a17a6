"""The adapters devstack puts into moto (pinned exactly: moto 5.2.5).

* `LambdaFunction._invoke_lambda` runs the function's real handler in this process through
  `devstack.runtime.invoke` instead of a Docker container, holding a unit of the function's
  concurrency (`devstack.concurrency`) while it runs, or raising its 429 when there is none.
* `LambdaFunction.invoke` queues an `InvocationType=Event` invocation for `devstack.asynchronous`
  (202 at once, run after the caller, retried as Lambda retries) instead of running it inside the
  caller's `Invoke`, and runs nothing for a `DryRun`.
* The Step Functions interpreter sleeps for real between retries (`time.sleep` in the retrier)
  and in `Wait` states (`WaitFunction._wait_interval`). Both are scaled by `time_scale`:
  0 in tests (no sleeping at all), a small fraction in the demo, 1 for real time.

* DynamoDB's writes are serialised (`devstack.atomicity`): moto checks a condition and
  writes without a lock, and the local stack serves requests on threads.
* Cognito runs a pool's pre-token-generation trigger and finds users in any case in a
  case-insensitive pool (`devstack.cognito`), which moto does not.
* DynamoDB refuses what it refuses and moto accepts (`devstack.strictness`).

`check_patch_points()` fails loudly when moto changes the shape of what is patched; the
canary test calls it, and so does `install()`.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Final

from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from devstack import asynchronous, atomicity, cognito, concurrency, runtime, stepfunctions, strictness

# The exact signatures devstack was written against (parameter names, defaults, return type).
# A change means moto's behaviour around the patch point changed too: read the new code
# before updating these.
INVOKE_LAMBDA_SIGNATURE: Final = "(self, event=None) -> tuple[str, bool, str]"
INVOKE_SIGNATURE: Final = "(self, body, request_headers, response_headers) -> str | bytes"
WAIT_INTERVAL_SIGNATURE: Final = "(self, env, wait_seconds) -> None"


_TIME: Final = "time"  # the module-level name moto's retrier sleeps through


class PatchPointChanged(RuntimeError):
    """moto no longer has the shape devstack patches: upgrade devstack with it."""


def _signature(function: Any) -> str:
    """`(name, name=default) -> return`, without parameter annotations (their spelling varies)."""
    signature = inspect.signature(function)
    parameters = ", ".join(
        name if parameter.default is inspect.Parameter.empty else f"{name}={parameter.default!r}"
        for name, parameter in signature.parameters.items()
    )
    returns = signature.return_annotation
    returns_text = returns if isinstance(returns, str) else getattr(returns, "__name__", str(returns))
    return f"({parameters}) -> {returns_text}"


def check_patch_points() -> None:
    problems = []
    found = _signature(LambdaFunction._invoke_lambda)
    if found != INVOKE_LAMBDA_SIGNATURE:
        problems.append(f"LambdaFunction._invoke_lambda{found} (expected {INVOKE_LAMBDA_SIGNATURE})")
    found = _signature(LambdaFunction.invoke)
    if found != INVOKE_SIGNATURE:
        problems.append(f"LambdaFunction.invoke{found} (expected {INVOKE_SIGNATURE})")
    if not isinstance(getattr(retrier_decl, _TIME, None), ModuleType | _ScaledTime):
        problems.append("retrier_decl no longer sleeps through its module-level `time`")
    found = _signature(WaitFunction._wait_interval)
    if found != WAIT_INTERVAL_SIGNATURE:
        problems.append(f"WaitFunction._wait_interval{found} (expected {WAIT_INTERVAL_SIGNATURE})")
    problems += cognito.patch_points()
    if problems:
        raise PatchPointChanged("moto's patch points changed: " + "; ".join(problems))


def spec_of(function: LambdaFunction) -> runtime.FunctionSpec:
    """The runtime view of a function moto holds (its deployed configuration)."""
    return runtime.FunctionSpec(
        function_name=function.function_name,
        handler=str(function.handler),
        environment=dict(function.environment_vars or {}),
        arn=function.function_arn,
        region=function.region,
        memory_mb=int(function.memory_size or 128),
        timeout_seconds=int(function.timeout or 3),
        version=str(function.version),
    )


def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for `LambdaFunction._invoke_lambda`: (payload, errored, logs), as moto expects.

    Raises `concurrency.Throttled` (Lambda's 429) when the function has no concurrency to spare.
    """
    if isinstance(event, bytes | str):
        event = json.loads(event or "{}")
    spec = spec_of(self)
    pool = concurrency.current()
    with pool.unit(spec.function_name, concurrency.reservations(self), concurrency.invocation_type()):
        outcome = runtime.invoke(spec, {} if event is None else event)
    lines = outcome.log_lines(spec)
    try:
        self.logs_backend.ensure_log_group(self.logs_group_name)
        self.save_logs("\n".join(lines))
    except Exception:  # noqa: S110 - logs are a convenience; never fail an invocation over them
        pass
    return outcome.payload.decode("utf-8"), outcome.errored, "\n".join(lines)


def _invocation_type(headers: Any) -> str:
    for name, value in (headers or {}).items():
        if str(name).lower() == "x-amz-invocation-type":
            return str(value)
    return "RequestResponse"


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    """Replacement for `LambdaFunction.invoke`: Event invocations are queued, DryRun runs nothing.

    Lambda answers an Event invocation with 202 once it has queued the event, and a DryRun with 204
    after validating it (Lambda API reference, `Invoke`); moto answers those statuses from the
    invocation type, whatever the payload, so an empty one is returned. The event must be JSON, as
    Lambda requires (`json.JSONDecodeError` otherwise, before anything is queued).
    """
    kind = _invocation_type(request_headers)
    if kind == "RequestResponse":
        return _INVOKE_SAVED["invoke"](self, body, request_headers, response_headers)  # type: ignore[no-any-return]
    event = json.loads(body) if body else {}
    if kind == "Event":
        asynchronous.current().submit(self, event)
    return ""


_INVOKE_SAVED: dict[str, Any] = {}


class _ScaledTime:
    """Stands in for the `time` module inside moto's retrier: `sleep` is scaled, the rest is `time`."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.scale > 0:
            time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _scaled_wait(scale: float) -> Any:
    def _wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0 and scale > 0:
            env.program_state_event.wait(wait_seconds * scale)

    return _wait_interval


class _Installed:
    lock = threading.Lock()
    depth = 0
    saved: dict[str, Any] | None = None


def install(time_scale: float) -> None:
    """Patch moto for this process (idempotent; nested installs keep the first scale)."""
    if time_scale < 0:
        raise ValueError("time_scale must be >= 0")
    with _Installed.lock:
        _Installed.depth += 1
        if _Installed.depth > 1:
            return
        check_patch_points()
        _Installed.saved = {
            "invoke": LambdaFunction.__dict__["_invoke_lambda"],
            "public_invoke": LambdaFunction.__dict__["invoke"],
            "time": getattr(retrier_decl, _TIME),
            "wait": WaitFunction.__dict__["_wait_interval"],
        }
        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
        _INVOKE_SAVED["invoke"] = _Installed.saved["public_invoke"]
        LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
        concurrency.install()
        asynchronous.start(time_scale)
        stepfunctions.install()
        setattr(retrier_decl, _TIME, _ScaledTime(time_scale))
        WaitFunction._wait_interval = _scaled_wait(time_scale)  # type: ignore[method-assign]
        atomicity.install()
        cognito.install()
        strictness.install()


def uninstall() -> None:
    with _Installed.lock:
        if _Installed.depth == 0:
            return
        _Installed.depth -= 1
        if _Installed.depth > 0 or _Installed.saved is None:
            return
        saved = _Installed.saved
        asynchronous.stop()
        stepfunctions.uninstall()
        concurrency.uninstall()
        LambdaFunction._invoke_lambda = saved["invoke"]  # type: ignore[method-assign]
        LambdaFunction.invoke = saved["public_invoke"]  # type: ignore[method-assign]
        setattr(retrier_decl, _TIME, saved["time"])
        WaitFunction._wait_interval = saved["wait"]  # type: ignore[method-assign]
        atomicity.uninstall()
        cognito.uninstall()
        strictness.uninstall()
        runtime.forget_environment()
        _Installed.saved = None


@contextmanager
def retries_scaled(scale: float) -> Iterator[None]:
    """Scale Step Functions' `Retry` waits by `scale` for the block, on a stack patched with another scale.

    A burst that throttles needs its back-off to take some time, so that slots and units free up
    between the attempts (`tests/robustness/test_burst.py`); the rest of a suite runs at 0.
    Raises `RuntimeError` when the patches are not installed.
    """
    scaled = getattr(retrier_decl, _TIME)
    if not isinstance(scaled, _ScaledTime):
        raise RuntimeError("devstack.patches is not installed")
    saved, scaled.scale = scaled.scale, scale
    try:
        yield
    finally:
        scaled.scale = saved


@contextmanager
def patched(time_scale: float = 0.0) -> Iterator[None]:
    install(time_scale)
    try:
        yield
    finally:
        uninstall()
