"""Lambda's concurrency locally (devstack.concurrency): an invocation beyond the function's reserved
concurrency or the account's unreserved pool is throttled, and each caller sees it as it sees it in
AWS - a synchronous Invoke the 429, a Step Functions task `Lambda.TooManyRequestsException` (which
its Retry retries), the asynchronous queue a retry that is no attempt, the SQS mapping a batch left
on the queue - and every throttle and retry is counted."""

from __future__ import annotations

import json
import time
import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import asynchronous, concurrency, metering, patches, runtime
from devstack.gateway import lambda_invoker
from devstack.queue_source import QueueEventSource
from tests.integration.stack.probes import create_probe_functions, probe_module

REGION = "us-east-1"
MODULE = "devstack_throttle_probe"
SFN_EXECUTION = {"stepfunctions": {"execute_state_machine": True}}
# The SDK retries a 429 itself (3 attempts in its standard mode): one attempt, to count Lambda's answers.
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def probe() -> Iterator[types.ModuleType]:
    with probe_module(MODULE) as module:
        yield module


def _role(service: str) -> str:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    return str(
        boto3.client("iam", region_name=REGION).create_role(
            RoleName=service.split(".")[0], AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    )


@pytest.fixture
def aws(probe: types.ModuleType) -> Iterator[Any]:
    with mock_aws(config=SFN_EXECUTION), patches.patched(time_scale=0.0):  # type: ignore[arg-type]
        runtime.set_aws_endpoint(None)
        role = _role("lambda.amazonaws.com")
        client = boto3.client("lambda", region_name=REGION)
        create_probe_functions(client, role, MODULE)
        yield boto3.client("lambda", region_name=REGION, config=ONE_ATTEMPT)
        asynchronous.wait_for_async(10)


def _invoke_target(event: Any, context: Any) -> Any:
    """The caller: invoke the target synchronously from inside an invocation (holding a unit)."""
    try:
        boto3.client("lambda", region_name=REGION, config=ONE_ATTEMPT).invoke(FunctionName="target", Payload=b"{}")
    except ClientError as error:
        response = error.response
        return {"code": response["Error"]["Code"], "status": response["ResponseMetadata"]["HTTPStatusCode"]}
    return {"code": None}


def _reason_of_target(event: Any, context: Any) -> Any:
    try:
        boto3.client("lambda", region_name=REGION, config=ONE_ATTEMPT).invoke(FunctionName="target", Payload=b"{}")
    except ClientError as error:
        return error.response.get("Reason")
    return None


def test_a_synchronous_invoke_beyond_the_account_s_concurrency_gets_lambda_s_429(
    aws: Any, probe: types.ModuleType
) -> None:
    probe.caller, probe.target = _invoke_target, lambda event, context: "ran"  # type: ignore[attr-defined]
    before = metering.burst_counts()
    with concurrency.account_limit(1):
        answer = json.loads(aws.invoke(FunctionName="caller", Payload=b"{}")["Payload"].read())
    assert answer == {"code": "TooManyRequestsException", "status": 429}
    with concurrency.account_limit(2):
        assert json.loads(aws.invoke(FunctionName="caller", Payload=b"{}")["Payload"].read()) == {"code": None}
    counted = metering.burst_counts() - before
    assert counted.lambda_throttles == {("target", "RequestResponse"): 1}
    assert counted.lambda_admitted == {"caller": 2, "target": 1}


def test_the_429_names_the_reserved_limit_and_a_reservation_is_its_own_pool(aws: Any, probe: types.ModuleType) -> None:
    probe.target = lambda event, context: "ran"  # type: ignore[attr-defined]
    aws.put_function_concurrency(FunctionName="target", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as refused:
        aws.invoke(FunctionName="target", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert refused.value.response["Reason"] == concurrency.RESERVED_REASON
    # One unit reserved for the target out of two: the caller has the other one, and the target its own.
    aws.put_function_concurrency(FunctionName="target", ReservedConcurrentExecutions=1)
    probe.caller = _invoke_target  # type: ignore[attr-defined]
    with concurrency.account_limit(2):
        assert json.loads(aws.invoke(FunctionName="caller", Payload=b"{}")["Payload"].read()) == {"code": None}
    # Without it, the target shares the account's one unit, which the caller holds.
    aws.delete_function_concurrency(FunctionName="target")
    probe.caller = _reason_of_target  # type: ignore[attr-defined]
    with concurrency.account_limit(1):
        reason = json.loads(aws.invoke(FunctionName="caller", Payload=b"{}")["Payload"].read())
    assert reason == concurrency.ACCOUNT_REASON


def test_a_step_functions_task_fails_with_lambda_toomanyrequests_and_its_retry_retries_it(
    aws: Any, probe: types.ModuleType
) -> None:
    probe.target = lambda event, context: "ran"  # type: ignore[attr-defined]
    aws.put_function_concurrency(FunctionName="target", ReservedConcurrentExecutions=0)
    target_arn = aws.get_function(FunctionName="target")["Configuration"]["FunctionArn"]
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": target_arn, "Payload": {}},
                "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="throttled", definition=json.dumps(definition), roleArn=_role("states.amazonaws.com")
    )["stateMachineArn"]
    before = metering.burst_counts()
    execution = sfn.start_execution(stateMachineArn=machine, name="burst-1", input="{}")["executionArn"]
    described = _finished(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == "Lambda.TooManyRequestsException"
    counted = metering.burst_counts() - before
    assert counted.sfn_retries == {"Lambda.TooManyRequestsException": 3}
    assert counted.sfn_exhausted == {"Lambda.TooManyRequestsException": 1}
    assert counted.lambda_throttles == {("target", "RequestResponse"): 4}


def _finished(sfn: Any, execution: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"{execution} still running after {timeout} s")


def test_a_throttled_event_is_kept_and_retried_without_counting_as_an_attempt(
    aws: Any, probe: types.ModuleType
) -> None:
    """The caller holds the account's one unit while its Event invocation of the target is tried:
    throttled once, the event runs once the caller has returned."""

    def caller(event: Any, context: Any) -> Any:
        boto3.client("lambda", region_name=REGION).invoke(FunctionName="target", InvocationType="Event", Payload=b"{}")
        deadline = time.monotonic() + 5
        while asynchronous.throttled()["target"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        return None

    probe.caller = caller  # type: ignore[attr-defined]
    probe.target = lambda event, context: probe.calls.append(context.aws_request_id)  # type: ignore[attr-defined]
    before = metering.burst_counts()
    with concurrency.account_limit(1):
        aws.invoke(FunctionName="caller", Payload=b"{}")
        asynchronous.wait_for_async(10)
    counted = metering.burst_counts() - before
    assert len(probe.calls) == 1
    assert counted.async_throttled == {"target": 1}
    assert counted.lambda_throttles == {("target", "Event"): 1}
    assert counted.async_given_up == 0


def test_a_throttled_event_is_given_up_when_its_retries_would_outgrow_its_maximum_age(
    aws: Any, probe: types.ModuleType
) -> None:
    """Throttle retries 1, 2, 4, 8, 16 s apart (31 s of age); the sixth (32 s more) would pass 60 s."""
    probe.target = lambda event, context: probe.calls.append(event)  # type: ignore[attr-defined]
    aws.put_function_concurrency(FunctionName="target", ReservedConcurrentExecutions=0)
    aws.put_function_event_invoke_config(FunctionName="target", MaximumEventAgeInSeconds=60)
    before = len(asynchronous.given_up())
    throttled = asynchronous.throttled()["target"]
    assert aws.invoke(FunctionName="target", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    asynchronous.wait_for_async(10)
    assert probe.calls == []
    assert asynchronous.throttled()["target"] - throttled == 6
    assert asynchronous.given_up()[before:] == (asynchronous.GivenUp("target", 0, "TooManyRequestsException"),)


def test_the_sqs_mapping_leaves_a_throttled_batch_on_the_queue(aws: Any, probe: types.ModuleType) -> None:
    probe.target = lambda event, context: {"batchItemFailures": []}  # type: ignore[attr-defined]
    aws.put_function_concurrency(FunctionName="target", ReservedConcurrentExecutions=0)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    mapping = QueueEventSource(sqs, url, arn, "target", lambda_invoker(aws), REGION)
    first = mapping.poll_once()
    assert (first.received, first.deleted, first.throttled) == (1, (), True)
    assert mapping.throttled == {"target": 1}
    aws.delete_function_concurrency(FunctionName="target")
    second = mapping.poll_once()
    assert (second.received, len(second.deleted), second.throttled) == (1, 1, False)
    assert mapping.poll_once().received == 0
