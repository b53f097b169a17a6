"""Step Functions' execution status-change events locally (devstack.stepfunctions, devstack.eventbridge):
every Standard execution sends "Step Functions Execution Status Change" when it starts and ends; the
rules whose pattern matches invoke their Lambda targets asynchronously; an execution that reaches the
25,000-event history quota ends FAILED whatever its Catch says, and says so in its event."""

from __future__ import annotations

import io
import json
import sys
import time
import types
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack import asynchronous, eventbridge, metering, patches, runtime, stepfunctions

REGION = "us-east-1"
ACCOUNT = "123456789012"
MODULE = "devstack_status_probe"
SFN_EXECUTION = {"stepfunctions": {"execute_state_machine": True}}
QUOTA = 300  # the quota is 25,000 events (stepfunctions.HISTORY_LIMIT); moto takes a minute to record them
UNFINISHED = {"source": ["aws.states"], "detail-type": [stepfunctions.DETAIL_TYPE]}
UNFINISHED["detail"] = {"status": ["FAILED", "TIMED_OUT", "ABORTED"]}  # type: ignore[assignment]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "imported from sys.modules")
    return buffer.getvalue()


@pytest.fixture
def recorder() -> Iterator[list[Any]]:
    module = types.ModuleType(MODULE)
    received: list[Any] = []
    module.record = lambda event, context: received.append(event)  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    yield received
    del sys.modules[MODULE]


def _role(service: str) -> str:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    iam = boto3.client("iam", region_name=REGION)
    return str(
        iam.create_role(RoleName=service.split(".")[0], AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


@pytest.fixture
def bus(recorder: list[Any]) -> Iterator[eventbridge.Bus]:
    """A rule like the one that records unfinished erasures, its target a recording function."""
    with mock_aws(config=SFN_EXECUTION), patches.patched(time_scale=0.0):  # type: ignore[arg-type]
        runtime.set_aws_endpoint(None)
        function_arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="recorder",
            Runtime=runtime.LAMBDA_RUNTIME,
            Role=_role("lambda.amazonaws.com"),
            Handler=f"{MODULE}.record",
            Code={"ZipFile": _zip()},
        )["FunctionArn"]
        rule = eventbridge.Rule(
            "unfinished",
            f"arn:aws:events:{REGION}:{ACCOUNT}:rule/unfinished",
            UNFINISHED,
            (eventbridge.Target("Target0", function_arn),),
        )
        with eventbridge.routing(eventbridge.Bus((rule,), eventbridge.lambda_delivery())) as routed:
            yield routed
        asynchronous.wait_for_async(10)


def _run(definition: dict[str, Any], name: str, machine: str = "probe") -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name=machine, definition=json.dumps(definition), roleArn=_role("states.amazonaws.com")
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"request_id": name}))[
        "executionArn"
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            asynchronous.wait_for_async(10)
            return described
        time.sleep(0.05)
    raise AssertionError(f"{execution} still running")


def test_a_failed_execution_s_event_reaches_the_matching_rule_s_function(
    bus: eventbridge.Bus, recorder: list[Any]
) -> None:
    before = metering.burst_counts()
    failing = {"StartAt": "Stop", "States": {"Stop": {"Type": "Fail", "Error": "Custody.Broken", "Cause": "by design"}}}
    described = _run(failing, "r-1")
    assert described["status"] == "FAILED"
    (event,) = recorder
    assert (event["source"], event["detail-type"]) == ("aws.states", "Step Functions Execution Status Change")
    assert (event["account"], event["region"], event["resources"]) == (ACCOUNT, REGION, [described["executionArn"]])
    detail = event["detail"]
    assert (detail["executionArn"], detail["name"]) == (described["executionArn"], "r-1")
    assert detail["stateMachineArn"] == described["stateMachineArn"]
    assert (detail["status"], detail["error"], detail["cause"]) == ("FAILED", "Custody.Broken", "by design")
    assert json.loads(detail["input"]) == {"request_id": "r-1"}
    assert (detail["output"], detail["outputDetails"], detail["inputDetails"]) == (None, None, {"included": True})
    assert isinstance(detail["startDate"], int)
    assert detail["stopDate"] >= detail["startDate"]
    counted = metering.burst_counts() - before
    assert counted.status_events == {"RUNNING": 1, "FAILED": 1}
    assert counted.rule_matches == {"unfinished": 1}


def test_a_succeeded_execution_sends_its_events_and_matches_no_rule_for_unfinished_ones(
    bus: eventbridge.Bus, recorder: list[Any]
) -> None:
    before = metering.burst_counts()
    described = _run({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}, "r-2")
    assert described["status"] == "SUCCEEDED"
    assert recorder == []
    counted = metering.burst_counts() - before
    assert counted.status_events == {"RUNNING": 1, "SUCCEEDED": 1}
    assert counted.rule_matches == {}


def test_the_history_quota_fails_the_execution_past_its_catch_and_the_event_says_so(
    bus: eventbridge.Bus, recorder: list[Any]
) -> None:
    """A loop inside a Parallel state whose Catch takes every error: the quota is no error it sees."""
    forever = {
        "StartAt": "Turn",
        "States": {
            "Turn": {"Type": "Pass", "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$", "IsPresent": True, "Next": "Turn"}]},
        },
    }
    definition = {
        "StartAt": "Loop",
        "States": {
            "Loop": {
                "Type": "Parallel",
                "Branches": [forever],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    before = metering.burst_counts()
    with stepfunctions.history_quota(QUOTA):
        described = _run(definition, "r-3", machine="looping")
    assert (described["status"], described["error"]) == ("FAILED", stepfunctions.HISTORY_LIMIT_ERROR)
    assert described["cause"] == stepfunctions.HISTORY_LIMIT_CAUSE
    sfn = boto3.client("stepfunctions", region_name=REGION)
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    assert len(events) == events[-1]["id"] == QUOTA
    assert events[-1]["type"] == "ExecutionFailed"
    assert not any(event["type"].startswith("ParallelStateExited") for event in events)
    (event,) = recorder
    assert (event["detail"]["status"], event["detail"]["error"]) == ("FAILED", stepfunctions.HISTORY_LIMIT_ERROR)
    assert (metering.burst_counts() - before).sfn_history_limited == 1


def test_a_target_the_authorizer_refuses_is_not_invoked_and_is_counted(recorder: list[Any]) -> None:
    with mock_aws(config=SFN_EXECUTION), patches.patched(time_scale=0.0):  # type: ignore[arg-type]
        runtime.set_aws_endpoint(None)
        target = eventbridge.Target("Target0", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:absent")
        rule = eventbridge.Rule(
            "unfinished", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/unfinished", UNFINISHED, (target,)
        )
        refusing = eventbridge.Bus(
            (rule,), eventbridge.lambda_delivery(lambda rule, target: "AccessDenied: no permission")
        )
        missing = eventbridge.Bus((rule,), eventbridge.lambda_delivery())
        event = {"source": "aws.states", "detail-type": stepfunctions.DETAIL_TYPE, "detail": {"status": "ABORTED"}}
        assert refusing.put_event(event) == ("unfinished",)
        assert missing.put_event(event) == ("unfinished",)
        assert refusing.undelivered() == (
            eventbridge.Undelivered("unfinished", "Target0", "AccessDenied: no permission"),
        )
        (undelivered,) = missing.undelivered()
        assert undelivered.reason.endswith(target.function_arn)
        asynchronous.wait_for_async(10)
    assert recorder == []
