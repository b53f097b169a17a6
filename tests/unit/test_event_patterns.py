"""The local event bus (devstack.eventbridge): which patterns it accepts, how it matches them, and
which rules of a template it routes."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.eventbridge import UnsupportedPattern, UnsupportedTarget, check_pattern, rules_from_template
from devstack.iam.template import Bindings, Resolver
from devstack.stepfunctions import DETAIL_TYPE

FAILED_EVENT: dict[str, Any] = {
    "source": "aws.states",
    "detail-type": DETAIL_TYPE,
    "detail": {"status": "FAILED", "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"},
}
UNFINISHED = {
    "source": ["aws.states"],
    "detail-type": [DETAIL_TYPE],
    "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"]},
}


def _template(**rule: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "Recorder": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "recorder"}},
            "Unfinished": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": "unfinished",
                    "EventPattern": UNFINISHED,
                    "Targets": [{"Id": "Target0", "Arn": {"Fn::GetAtt": ["Recorder", "Arn"]}}],
                    **rule,
                },
            },
            "Nightly": {
                "Type": "AWS::Events::Rule",
                "Properties": {"ScheduleExpression": "rate(1 day)", "Targets": []},
            },
        }
    }


RESOLVER_BINDINGS = Bindings(account="123456789012", region="us-east-1")


def _rules(template: dict[str, Any]) -> Any:
    return rules_from_template(template, Resolver(template, RESOLVER_BINDINGS))


def test_a_pattern_rule_is_routed_to_its_resolved_lambda_target_and_a_schedule_is_not() -> None:
    (rule,) = _rules(_template())
    assert (rule.name, rule.arn) == ("unfinished", "arn:aws:events:us-east-1:123456789012:rule/unfinished")
    assert [target.function_arn for target in rule.targets] == [
        "arn:aws:lambda:us-east-1:123456789012:function:recorder"
    ]
    assert rule.matches(FAILED_EVENT)
    assert not rule.matches({**FAILED_EVENT, "detail": {"status": "SUCCEEDED"}})
    assert not rule.matches({**FAILED_EVENT, "source": "aws.lambda"})


def test_disabled_rules_and_other_buses_are_not_routed() -> None:
    assert _rules(_template(State="DISABLED")) == ()
    assert _rules(_template(EventBusName="another")) == ()
    assert len(_rules(_template(EventBusName="default"))) == 1


def test_targets_the_bus_does_not_model_are_refused() -> None:
    sns = [{"Id": "T", "Arn": "arn:aws:sns:us-east-1:123456789012:topic"}]
    with pytest.raises(UnsupportedTarget, match="Lambda functions only"):
        _rules(_template(Targets=sns))
    transformed = [{"Id": "T", "Arn": {"Fn::GetAtt": ["Recorder", "Arn"]}, "InputTransformer": {"InputTemplate": "x"}}]
    with pytest.raises(UnsupportedTarget, match="InputTransformer"):
        _rules(_template(Targets=transformed))


def test_a_target_gets_the_event_its_input_or_its_input_path() -> None:
    arn = {"Fn::GetAtt": ["Recorder", "Arn"]}
    targets = [
        {"Id": "Whole", "Arn": arn},
        {"Id": "Constant", "Arn": arn, "Input": '{"task": "record"}'},
        {"Id": "Detail", "Arn": arn, "InputPath": "$.detail"},
    ]
    (rule,) = _rules(_template(Targets=targets))
    assert [target.payload(FAILED_EVENT) for target in rule.targets] == [
        FAILED_EVENT,
        {"task": "record"},
        FAILED_EVENT["detail"],
    ]


@pytest.mark.parametrize(
    ("pattern", "event_detail", "matches"),
    [
        ({"status": [{"anything-but": ["SUCCEEDED", "RUNNING"]}]}, {"status": "FAILED"}, True),
        ({"status": [{"anything-but": ["SUCCEEDED", "RUNNING"]}]}, {"status": "RUNNING"}, False),
        ({"stateMachineArn": [{"prefix": "arn:aws:states:"}]}, {"stateMachineArn": "arn:aws:states:x"}, True),
        ({"error": [{"exists": True}]}, {"status": "FAILED"}, False),
        ({"error": [{"exists": False}]}, {"status": "FAILED"}, True),
        ({"startDate": [{"numeric": [">", 0, "<=", 5]}]}, {"startDate": 5}, True),
        ({"$or": [{"status": ["FAILED"]}, {"status": ["ABORTED"]}]}, {"status": "ABORTED"}, True),
    ],
)
def test_the_filters_it_accepts_match_as_eventbridge_matches_them(
    pattern: dict[str, Any], event_detail: dict[str, Any], matches: bool
) -> None:
    check_pattern({"detail": pattern})
    (rule,) = _rules(_template(EventPattern={"detail": pattern}))
    assert rule.matches({"detail": event_detail}) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        {"detail": {"status": [{"unknown-operator": "x"}]}},
        {"detail": {"status": [{"prefix": "A", "suffix": "B"}]}},
        {"detail": {"status": [{"anything-but": {"numeric": [">", 1]}}]}},
        {"detail": {"count": [{"numeric": [">"]}]}},
        {"detail": {"status": "FAILED"}},
        {"detail": {"status": []}},
        {"$or": []},
    ],
)
def test_what_it_cannot_match_faithfully_is_refused_loudly(pattern: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPattern):
        check_pattern(pattern)
    with pytest.raises(UnsupportedPattern):
        _rules(_template(EventPattern=pattern))


def test_reserved_concurrency_is_read_from_the_template_s_functions() -> None:
    from devstack.wiring import reserved_concurrency

    template = {
        "Resources": {
            "Steps": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"FunctionName": "steps", "ReservedConcurrentExecutions": 50},
            },
            "Other": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "other"}},
        }
    }
    assert reserved_concurrency(template, Resolver(template, RESOLVER_BINDINGS)) == {"steps": 50}
