"""The in-process Lambda runtime: environment in and out, Lambda-shaped results and errors."""

from __future__ import annotations

import json
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

from custody.declared.errors import NotImplementedYet
from devstack import runtime

MODULE = "devstack_probe_handler"


@pytest.fixture
def probe() -> Iterator[types.ModuleType]:
    module = types.ModuleType(MODULE)
    sys.modules[MODULE] = module
    yield module
    del sys.modules[MODULE]


def _spec(handler: str = f"{MODULE}.handle", timeout: int = 3, **environment: str) -> runtime.FunctionSpec:
    return runtime.FunctionSpec(
        function_name="probe",
        handler=handler,
        environment=environment,
        arn="arn:aws:lambda:us-east-1:123456789012:function:probe",
        region="us-east-1",
        timeout_seconds=timeout,
    )


def test_the_function_sees_its_environment_and_the_process_gets_its_own_back(probe: types.ModuleType) -> None:
    seen: dict[str, Any] = {}

    def handle(event: Any, context: Any) -> Any:
        seen.update(
            variable=os.environ.get("CUSTODY_PROBE"),
            function=os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            remaining=context.get_remaining_time_in_millis(),
            request_id=context.aws_request_id,
        )
        return {"echo": event}

    probe.handle = handle  # type: ignore[attr-defined]
    before = dict(os.environ)
    outcome = runtime.invoke(_spec(CUSTODY_PROBE="yes"), {"a": 1})
    assert os.environ["CUSTODY_PROBE"] == "yes", "left in place: deleting races threads reading the environment"
    runtime.forget_environment()
    assert outcome.result() == {"echo": {"a": 1}}
    assert not outcome.errored
    assert seen["variable"] == "yes"
    assert seen["function"] == "probe"
    assert 0 < seen["remaining"] <= 3000
    assert seen["request_id"] == outcome.request_id
    assert dict(os.environ) == before


def test_an_exception_becomes_lambdas_error_payload_named_by_its_class(probe: types.ModuleType) -> None:
    def handle(event: Any, context: Any) -> Any:
        raise NotImplementedYet("not yet")

    probe.handle = handle  # type: ignore[attr-defined]
    outcome = runtime.invoke(_spec(), {})
    assert outcome.error_type == "NotImplementedYet"
    body = json.loads(outcome.payload)
    assert (body["errorType"], body["errorMessage"], body["requestId"]) == (
        "NotImplementedYet",
        "not yet",
        outcome.request_id,
    )
    assert any("in handle" in frame for frame in body["stackTrace"])


def test_an_unserialisable_result_is_a_marshal_error(probe: types.ModuleType) -> None:
    probe.handle = lambda event, context: {"when": object()}  # type: ignore[attr-defined]
    assert runtime.invoke(_spec(), {}).error_type == "Runtime.MarshalError"


def test_a_missing_handler_is_an_error_not_a_crash() -> None:
    assert runtime.invoke(_spec("no_such_module_anywhere.handle"), {}).error_type == "ModuleNotFoundError"


def test_the_log_lines_carry_ids_and_timings_never_the_payload(probe: types.ModuleType) -> None:
    probe.handle = lambda event, context: {"secret": "do-not-log"}  # type: ignore[attr-defined]
    spec = _spec()
    outcome = runtime.invoke(spec, {"email": "someone@example.com"})
    lines = "\n".join(outcome.log_lines(spec))
    assert outcome.request_id in lines
    assert "do-not-log" not in lines
    assert "someone@example.com" not in lines


def test_a_parked_invocation_lets_others_run_and_goes_on_with_its_own_environment(probe: types.ModuleType) -> None:
    """`runtime.others_may_run` (tests/robustness/interleave.py parks a request before its write with it):
    invocations are serialised, yet while one waits in the block another runs to its end; the parked
    one then goes on alone, seeing its own variables again."""
    parked, release = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def handle(event: Any, context: Any) -> Any:
        if event.get("park"):
            with runtime.others_may_run():
                parked.set()
                assert release.wait(10)
            seen["after"] = os.environ.get("CUSTODY_PROBE")
        return {"ran": event.get("name")}

    probe.handle = handle  # type: ignore[attr-defined]
    outcomes: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: outcomes.update(first=runtime.invoke(_spec(CUSTODY_PROBE="first"), {"park": 1, "name": "a"}))
    )
    first.start()
    assert parked.wait(10)
    second = runtime.invoke(_spec(timeout=1, CUSTODY_PROBE="second"), {"name": "b"})  # not DevstackRuntimeBusy
    assert second.result() == {"ran": "b"}
    release.set()
    first.join(10)
    runtime.forget_environment()
    assert outcomes["first"].result() == {"ran": "a"}
    assert seen["after"] == "first"


def test_time_parked_is_the_tests_not_the_functions(probe: types.ModuleType) -> None:
    """A request parked past its function's timeout (a slow erasure between its read and its write) still
    runs to its own end, with the remaining time it had; a function that itself runs past its timeout
    still ends `Sandbox.Timedout`."""
    remaining: list[int] = []

    def handle(event: Any, context: Any) -> Any:
        if event.get("park"):
            before = context.get_remaining_time_in_millis()
            with runtime.others_may_run():
                threading.Event().wait(1.3)
            remaining.append(before - context.get_remaining_time_in_millis())
        else:
            threading.Event().wait(1.3)
        return {"ran": True}

    probe.handle = handle  # type: ignore[attr-defined]
    parked = runtime.invoke(_spec(timeout=1), {"park": 1})
    assert parked.error_type is None, parked.payload
    assert parked.result() == {"ran": True}
    assert remaining
    assert remaining[0] < 1000  # the hold did not use up the invocation's time
    assert runtime.invoke(_spec(timeout=1), {}).error_type == "Sandbox.Timedout"
