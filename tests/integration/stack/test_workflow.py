"""The erasure state machine, provisioned from the real ASL file, executes in moto and runs Lambda in-process."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from custody.declared import naming
from devstack import runtime
from tests.integration.conftest import LocalStack


class TransientError(Exception):
    """Named like the error the ASL retries."""


class ProbeError(Exception):
    """An error only this test raises: seeing its name in the history proves where it came from."""


def _run(local_stack: LocalStack, timeout: float = 30.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sfn = local_stack.clients("stepfunctions")
    request_id = str(uuid.uuid4())
    arn = local_stack.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    started = sfn.start_execution(
        stateMachineArn=arn,
        name=request_id,
        input=json.dumps(
            {"request_id": request_id, "subject_id": str(uuid.uuid4()), "reason": "withdrawal", "scope": {}}
        ),
    )
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=started["executionArn"]))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)["events"]
    return described, events


def _entered(events: list[dict[str, Any]]) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def _failures(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event["taskFailedEventDetails"] for event in events if event["type"] == "TaskFailed"]


@pytest.fixture
def steps_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[dict[str, Any]], Any]], None]:
    """Replace the erasure steps' handler for one test (the runtime looks it up on every invocation)."""
    module = runtime.load_module("erasure_steps.handler")

    def install(behaviour: Callable[[dict[str, Any]], Any]) -> None:
        monkeypatch.setattr(module, "lambda_handler", lambda event, context: behaviour(event))

    return install


def test_the_real_asl_reaches_the_real_handler_in_process(local_stack: LocalStack) -> None:
    described, events = _run(local_stack)
    assert _entered(events)[0] == "Freeze"
    scheduled = next(event for event in events if event["type"] == "TaskScheduled")
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    assert parameters["FunctionName"] == local_stack.resources.functions["erasure_steps"].arn
    assert parameters["Payload"]["step"] == "freeze"
    outcome = next(event for event in events if event["type"] in ("TaskSucceeded", "TaskFailed"))
    if outcome["type"] == "TaskFailed":
        # Until the step is built: the handler's own exception, by name, through Lambda's error payload.
        details = outcome["taskFailedEventDetails"]
        cause = json.loads(details["cause"])
        assert details["error"] == cause["errorType"]
        assert any("erasure_steps/handler.py" in frame for frame in cause["stackTrace"])
        assert "RecordFailure" in _entered(events), "Catch routes any failure to RecordFailure"
    assert described["status"] in ("SUCCEEDED", "FAILED")


def test_a_step_error_name_is_caught_recorded_and_alarmed(
    local_stack: LocalStack, steps_handler: Callable[[Callable[[dict[str, Any]], Any]], None]
) -> None:
    seen: list[dict[str, Any]] = []

    def behaviour(event: dict[str, Any]) -> Any:
        seen.append(event)
        if event["step"] == "freeze":
            raise ProbeError("freeze failed in a test")
        return {"recorded": True}

    steps_handler(behaviour)
    described, events = _run(local_stack)
    assert _failures(events)[0]["error"] == "ProbeError"
    assert _entered(events) == ["Freeze", "RecordFailure", "AlarmOnFailure", "ErasureFailed"]
    assert seen[-1] == {
        "step": "record_failure",
        "request_id": seen[0]["request_id"],
        "subject_id": seen[0]["subject_id"],
        "error": "ProbeError",
    }
    published = [event for event in events if event["type"] == "TaskSucceeded"]
    assert any(event["taskSucceededEventDetails"]["resourceType"] == "sns" for event in published)
    assert (described["status"], described["error"]) == ("FAILED", "ErasureFailed")


def test_transient_errors_are_retried_without_sleeping(
    local_stack: LocalStack, steps_handler: Callable[[Callable[[dict[str, Any]], Any]], None]
) -> None:
    attempts: list[str] = []

    def behaviour(event: dict[str, Any]) -> Any:
        attempts.append(event["step"])
        if event["step"] == "freeze" and attempts.count("freeze") < 4:
            raise TransientError("try again")
        if event["step"] == "freeze":
            raise ProbeError("still failing")
        return {}

    steps_handler(behaviour)
    started = time.monotonic()
    _, events = _run(local_stack)
    assert attempts.count("freeze") == 4, "three retries of the ASL's TransientError policy, then the fourth try"
    assert [failure["error"] for failure in _failures(events)][:4] == ["TransientError"] * 3 + ["ProbeError"]
    assert time.monotonic() - started < 10, "2 s + 4 s + 8 s of backoff were not slept"
