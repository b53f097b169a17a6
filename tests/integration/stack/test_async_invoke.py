"""Lambda's asynchronous invocation locally (devstack.asynchronous): queued at once, run after the
caller, retried as the function's event invoke config says, and waited for by tests."""

from __future__ import annotations

import json
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack import asynchronous, patches, runtime
from tests.integration.stack.probes import create_probe_functions, probe_module

REGION = "us-east-1"
MODULE = "devstack_async_probe"


@pytest.fixture
def probe() -> Iterator[types.ModuleType]:
    with probe_module(MODULE) as module:
        yield module


@pytest.fixture
def aws(probe: types.ModuleType) -> Iterator[Any]:
    with mock_aws(), patches.patched(time_scale=0.0):
        runtime.set_aws_endpoint(None)
        trust = {
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]
        }
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="probe", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        client = boto3.client("lambda", region_name=REGION)
        create_probe_functions(client, role, MODULE)
        yield client
        asynchronous.wait_for_async(10)


def test_an_event_invoke_from_inside_a_function_returns_at_once_and_the_target_runs_after(
    aws: Any, probe: types.ModuleType
) -> None:
    def caller(event: Any, context: Any) -> Any:
        answer = boto3.client("lambda", region_name=REGION).invoke(
            FunctionName="target", InvocationType="Event", Payload=json.dumps({"export": "e1"}).encode()
        )
        probe.calls.append(("caller", answer["StatusCode"], list(probe.calls)))  # the target has not run yet
        return {"ok": True}

    def target(event: Any, context: Any) -> Any:
        probe.calls.append(("target", event))
        return None

    probe.caller, probe.target = caller, target  # type: ignore[attr-defined]
    answer = aws.invoke(FunctionName="caller", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"ok": True}
    asynchronous.wait_for_async(10)
    assert probe.calls == [("caller", 202, []), ("target", {"export": "e1"})]


@pytest.mark.parametrize(("configured", "attempts"), [(None, 3), (1, 2), (0, 1)])
def test_a_failing_target_is_retried_as_its_event_invoke_config_says(
    aws: Any, probe: types.ModuleType, configured: int | None, attempts: int
) -> None:
    def target(event: Any, context: Any) -> Any:
        probe.calls.append(context.aws_request_id)
        raise RuntimeError("export failed")

    probe.target = target  # type: ignore[attr-defined]
    if configured is not None:
        aws.put_function_event_invoke_config(FunctionName="target", MaximumRetryAttempts=configured)
    before = len(asynchronous.given_up())
    assert aws.invoke(FunctionName="target", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    asynchronous.wait_for_async(10)
    assert len(probe.calls) == len(set(probe.calls)) == attempts  # a new request id per attempt
    assert asynchronous.given_up()[before:] == (asynchronous.GivenUp("target", attempts, "RuntimeError"),)


def test_a_dry_run_runs_nothing(aws: Any, probe: types.ModuleType) -> None:
    probe.target = lambda event, context: probe.calls.append(event)  # type: ignore[attr-defined]
    assert aws.invoke(FunctionName="target", InvocationType="DryRun", Payload=b"{}")["StatusCode"] == 204
    asynchronous.wait_for_async(10)
    assert probe.calls == []


def test_waiting_is_bounded_and_says_what_is_pending(aws: Any, probe: types.ModuleType) -> None:
    release = threading.Event()
    probe.target = lambda event, context: release.wait(10)  # type: ignore[attr-defined]
    aws.invoke(FunctionName="target", InvocationType="Event", Payload=b"{}")
    with pytest.raises(asynchronous.AsyncInvocationsPending, match="1 running"):
        asynchronous.wait_for_async(0.2)
    release.set()
    asynchronous.wait_for_async(10)


class _Failing:
    """Stands in for moto's function: every attempt errs; its event invoke config is Lambda's default."""

    function_name = "failing"

    def __init__(self) -> None:
        self.attempted: list[float] = []
        self.event_invoke_config: list[Any] = []

    def _invoke_lambda(self, event: Any = None) -> tuple[str, bool, str]:
        self.attempted.append(time.monotonic())
        return json.dumps({"errorType": "Boom"}), True, ""


def test_retries_wait_one_then_two_minutes_times_the_time_scale() -> None:
    invoker = asynchronous.AsyncInvoker(time_scale=0.002)  # 0.12 s, then 0.24 s
    try:
        function = _Failing()
        invoker.submit(function, {})
        invoker.wait(10)
        first, second, third = function.attempted
        assert 0.12 <= second - first < 0.12 + 1.0
        assert 0.24 <= third - second < 0.24 + 1.0
        assert invoker.given_up() == (asynchronous.GivenUp("failing", 3, "Boom"),)
    finally:
        invoker.stop()


def test_an_event_too_old_for_its_next_retry_is_given_up() -> None:
    config = types.SimpleNamespace(config={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 90})  # 60 s fits

    invoker = asynchronous.AsyncInvoker(time_scale=0.0)
    try:
        function = _Failing()
        function.event_invoke_config = [config]
        invoker.submit(function, {})
        invoker.wait(10)
        assert len(function.attempted) == 2
        assert invoker.given_up() == (asynchronous.GivenUp("failing", 2, "Boom"),)
    finally:
        invoker.stop()
