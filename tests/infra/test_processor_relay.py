"""The delivery path to sub-processors in the template: the relay's mapping, its role, the queue, its DLQ and alarm."""

from __future__ import annotations

import json
from typing import Any

from custody.declared import catalog, naming
from tests.infra.conftest import Cfn, Synthesized, as_list
from tests.infra.stores import key_id, table_id


def _function(cfn: Cfn, prefix: str, name: str) -> tuple[str, dict[str, Any]]:
    for logical, resource in cfn.of_type("AWS::Lambda::Function").items():
        if resource["Properties"]["FunctionName"] == naming.function_name(prefix, name):
            return logical, resource["Properties"]
    raise AssertionError(name)


def _queue(cfn: Cfn, name: str) -> tuple[str, dict[str, Any]]:
    for logical, resource in cfn.of_type("AWS::SQS::Queue").items():
        if resource["Properties"].get("QueueName") == name:
            return logical, resource["Properties"]
    raise AssertionError(name)


def test_the_queue_invokes_the_relay_with_partial_batch_responses(synth: Synthesized) -> None:
    cfn, prefix = synth.cfn, synth.config.prefix
    relay, props = _function(cfn, prefix, naming.PROCESSOR_RELAY)
    queue, queue_props = _queue(cfn, naming.queue_name(prefix, naming.PROCESSOR_NOTIFICATIONS))
    (mapping_props,) = (
        mapping["Properties"]
        for mapping in cfn.of_type("AWS::Lambda::EventSourceMapping").values()
        if Cfn.refs(mapping["Properties"]["FunctionName"]) == {relay}
    )
    assert Cfn.refs(mapping_props["EventSourceArn"]) == {queue}
    assert mapping_props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # One message per invocation: one processor's hanging endpoint must not time out another's delivery.
    assert mapping_props["BatchSize"] == catalog.QUEUE_BATCH_SIZE == 1
    assert 2 <= mapping_props["ScalingConfig"]["MaximumConcurrency"] <= 1000
    # Lambda asks for a visibility timeout of at least six times the function's timeout.
    assert queue_props["VisibilityTimeout"] >= 6 * props["Timeout"]
    assert "DeadLetterConfig" not in props  # its queue's redrive is its dead-letter queue


def test_failed_requests_end_in_an_encrypted_dead_letter_queue_that_alarms(synth: Synthesized) -> None:
    cfn, prefix = synth.cfn, synth.config.prefix
    name = naming.queue_name(prefix, naming.PROCESSOR_NOTIFICATIONS)
    _, queue_props = _queue(cfn, name)
    dead, dead_props = _queue(cfn, name + "-dlq")
    operations = key_id(cfn, "operations", prefix)
    assert Cfn.refs(queue_props["RedrivePolicy"]["deadLetterTargetArn"]) == {dead}
    assert queue_props["RedrivePolicy"]["maxReceiveCount"] == catalog.QUEUE_MAX_RECEIVES
    for props in (queue_props, dead_props):
        assert Cfn.refs(props["KmsMasterKeyId"]) == {operations}  # customer managed
    alarms = [
        alarm["Properties"]
        for alarm in cfn.of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and any(Cfn.refs(d["Value"]) == {dead} for d in alarm["Properties"].get("Dimensions", []))
    ]
    (alarm,) = alarms
    assert alarm["Threshold"] == 1
    assert alarm["AlarmActions"]


def test_the_relay_role_is_least_privilege(synth: Synthesized) -> None:
    cfn, prefix = synth.cfn, synth.config.prefix
    _, props = _function(cfn, prefix, naming.PROCESSOR_RELAY)
    (role,) = Cfn.refs(props["Role"])
    statements = cfn.policy_statements(role)
    queue, _ = _queue(cfn, naming.queue_name(prefix, naming.PROCESSOR_NOTIFICATIONS))
    operations = key_id(cfn, "operations", prefix)
    granted: dict[str, list[Any]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).append(statement)
    assert sorted(granted) == sorted(
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "kms:Decrypt",
            "kms:DescribeKey",
            "secretsmanager:GetSecretValue",
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ]
    )
    for statement in granted["dynamodb:GetItem"]:  # the registry only, read only
        assert Cfn.refs(statement["Resource"]) == {table_id(cfn, "processors")}
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        (statement,) = granted[action]
        assert Cfn.refs(statement["Resource"]) == {queue}
    (secrets,) = granted["secretsmanager:GetSecretValue"]
    assert json.dumps(secrets["Resource"]).endswith(f':secret:{naming.signing_secrets_pattern(prefix)}"]]}}')
    operations_uses = [s for s in granted["kms:Decrypt"] if Cfn.refs(s["Resource"]) == {operations}]
    services = sorted(json.dumps(s["Condition"]["StringEquals"]["kms:ViaService"]) for s in operations_uses)
    assert len(services) == 2
    assert "secretsmanager." in services[0]
    assert "sqs." in services[1]
    text = json.dumps(statements)
    for forbidden in ("s3:", "states:", "kms:GenerateMac", "kms:VerifyMac", "secretsmanager:CreateSecret"):
        assert forbidden not in text


def test_only_the_registry_issues_signing_secrets_and_only_the_relay_reads_them(synth: Synthesized) -> None:
    cfn, prefix = synth.cfn, synth.config.prefix

    def roles_allowed(*actions: str) -> set[str]:
        found: set[str] = set()
        for policy, statement in cfn.all_policy_statements():
            if set(actions) & set(as_list(statement["Action"])):
                props = cfn.props(policy)
                found |= Cfn.refs(props.get("Roles", [])) if "Roles" in props else {policy}
        return found

    processors = Cfn.refs(_function(cfn, prefix, "processors")[1]["Role"])
    relay = Cfn.refs(_function(cfn, prefix, naming.PROCESSOR_RELAY)[1]["Role"])
    assert roles_allowed("secretsmanager:CreateSecret", "secretsmanager:PutSecretValue") == processors
    assert roles_allowed("secretsmanager:GetSecretValue") == relay
    assert roles_allowed("secretsmanager:*", "secretsmanager:DeleteSecret") == set()
