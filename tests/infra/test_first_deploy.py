"""Issue 19: the first `cdk deploy` succeeds on a fresh account, a failed one leaves nothing that
blocks the retry, and the alarms reach a person. One test (or a few) per finding of the issue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from custody.declared import naming
from infra.config import CustodyConfig, longest_names
from infra.constructs.api import APIGATEWAY_LOGS_POLICY
from infra.constructs.identity import Identity
from infra.constructs.monitoring import Monitoring
from infra.constructs.workflow import VENDED_LOGS
from tests.infra.conftest import CDK_JSON, Cfn, Synthesized, as_list

# --- 1. reserved concurrency is opt-in ----------------------------------------------------------


def test_no_function_reserves_concurrency_by_default(cfn: Cfn) -> None:
    for lid, res in cfn.of_type("AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" not in res["Properties"], lid


def test_reserved_concurrency_is_set_per_catalog_function() -> None:
    config = CustodyConfig(reserved_concurrency={"erasure_steps": 10, "collect": 5})
    assert (config.reserved("erasure_steps"), config.reserved("staff"), config.total_reserved()) == (10, None, 15)
    with pytest.raises(ValueError, match="catalog function"):
        CustodyConfig(reserved_concurrency={"nonesuch": 5})
    with pytest.raises(ValueError, match="catalog function"):
        CustodyConfig(reserved_concurrency={"collect": 0})


# --- 2. a failed first deploy leaves nothing that blocks the retry ------------------------------

STATEFUL = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::Backup::BackupVault",
)
# Kept even when their creation rolls back, each for a reason (docs/infrastructure.md): user pools
# (deletion protection would refuse the rollback; pool names need not be unique), and API Gateway's
# CloudWatch role and setting (an account setting other APIs may depend on once it is set).
RETAINED = {"AWS::Cognito::UserPool", "AWS::IAM::Role", "AWS::ApiGateway::Account"}


def test_every_stateful_resource_is_deleted_by_a_creation_rollback_and_kept_otherwise(cfn: Cfn) -> None:
    for cfn_type in STATEFUL:
        assert cfn.of_type(cfn_type), cfn_type
        for lid, res in cfn.of_type(cfn_type).items():
            assert res.get("DeletionPolicy") == "RetainExceptOnCreate", lid
            assert res.get("UpdateReplacePolicy") == "Retain", lid


def test_only_the_reasoned_resources_outlive_a_creation_rollback(cfn: Cfn) -> None:
    retained = {lid: res for lid, res in cfn.resources.items() if res.get("DeletionPolicy") == "Retain"}
    assert {res["Type"] for res in retained.values()} == RETAINED
    (role,) = (lid for lid, res in retained.items() if res["Type"] == "AWS::IAM::Role")
    assert cfn.props(role)["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    for lid, res in cfn.of_type("AWS::Cognito::UserPool").items():
        assert res["Properties"]["DeletionProtection"] == "ACTIVE", lid


def test_tables_are_guarded_by_a_policy_the_rollback_can_pass(cfn: Cfn) -> None:
    """DynamoDB's deletion protection would refuse the rollback's DeleteTable; the table policy denies
    it to everyone but CloudFormation's execution role instead."""
    for lid, res in cfn.of_type("AWS::DynamoDB::Table").items():
        props = res["Properties"]
        assert not props.get("DeletionProtectionEnabled"), lid
        (statement,) = props["ResourcePolicy"]["PolicyDocument"]["Statement"]
        assert (statement["Effect"], statement["Action"], statement["Principal"]) == (
            "Deny",
            "dynamodb:DeleteTable",
            {"AWS": "*"},
        )
        role = json.dumps(statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
        assert "cfn-exec-role-" in role, lid
        assert props["TableName"] in json.dumps(statement["Resource"]), lid


def _barrier(cfn: Cfn) -> tuple[str, set[str]]:
    (barrier,) = cfn.of_type("AWS::CloudFormation::WaitConditionHandle")
    late = {lid for lid, res in cfn.resources.items() if barrier in as_list(res.get("DependsOn", []))}
    return barrier, late


def test_what_writes_undeletable_data_is_created_after_everything_else(cfn: Cfn) -> None:
    barrier, late = _barrier(cfn)
    assert {cfn.resources[lid]["Type"] for lid in late} == {
        "AWS::CloudTrail::Trail",  # into the Object Lock ledger
        "AWS::IAM::ManagedPolicy",  # the functions' ledger writes
        "AWS::Backup::BackupSelection",  # recovery points into the locked vault
        "AWS::S3::BucketPolicy",  # S3's log delivery into the access-log bucket
        "Custom::CDKBucketDeployment",  # the web front end's files into the site bucket
    }
    before = set(as_list(cfn.resources[barrier]["DependsOn"]))
    others = {lid for lid, res in cfn.resources.items() if res["Type"] != "AWS::CDK::Metadata"} - late - {barrier}
    assert before == others
    for lid in late:  # nothing waits for a writer, so the writers are truly last
        assert all(lid not in as_list(res.get("DependsOn", [])) for res in cfn.resources.values()), lid
        assert all(lid not in Cfn.refs(res.get("Properties", {})) for res in cfn.resources.values()), lid


def test_only_late_resources_may_put_objects_into_the_ledger(synth: Synthesized) -> None:
    cfn = synth.cfn
    _, late = _barrier(cfn)
    (ledger,) = (
        lid for lid, res in cfn.of_type("AWS::S3::Bucket").items() if Cfn.tags(res).get("custody:store") == "audit"
    )
    for lid, statement in cfn.all_policy_statements():
        puts = statement["Effect"] == "Allow" and "s3:PutObject" in as_list(statement["Action"])
        if puts and ledger in Cfn.refs(statement.get("Resource")):
            assert lid in late, lid
    (trail,) = cfn.of_type("AWS::CloudTrail::Trail")
    assert trail in late
    access_logs = next(
        lid
        for lid, res in cfn.of_type("AWS::S3::BucketPolicy").items()
        if any(
            statement.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
            for statement in res["Properties"]["PolicyDocument"]["Statement"]
        )
    )
    assert access_logs in late


# --- 3. alarms reach a person -------------------------------------------------------------------


def _cloudwatch_may(statements: list[dict[str, Any]]) -> dict[str, Any]:
    (statement,) = (s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"})
    return statement


def test_cloudwatch_may_publish_to_the_alarm_topic_for_this_accounts_alarms_only(cfn: Cfn) -> None:
    (policy,) = cfn.of_type("AWS::SNS::TopicPolicy").values()
    allow = _cloudwatch_may(policy["Properties"]["PolicyDocument"]["Statement"])
    assert (allow["Effect"], allow["Action"]) == ("Allow", "sns:Publish")
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert json.dumps(allow["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(':alarm:*"]]}')
    (topic,) = cfn.of_type("AWS::SNS::Topic")
    (key,) = Cfn.refs(cfn.props(topic)["KmsMasterKeyId"])
    encrypt = _cloudwatch_may(cfn.props(key)["KeyPolicy"]["Statement"])
    assert set(encrypt["Condition"]) == {"StringEquals", "ArnLike"}


def test_every_service_principal_is_held_to_this_account(cfn: Cfn) -> None:
    """Confused deputy: each resource or key policy that lets an AWS service in names the source."""
    scoping = ("aws:sourceaccount", "aws:sourcearn", "kms:encryptioncontext:aws:logs:arn")  # keys ignore case
    resource_policies = ("AWS::KMS::Key", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy")
    for lid, res in cfn.resources.items():
        if res["Type"] not in resource_policies:
            continue
        document = res["Properties"].get("KeyPolicy") or res["Properties"]["PolicyDocument"]
        for statement in as_list(document.get("Statement", [])):
            if statement["Effect"] == "Allow" and "Service" in statement.get("Principal", {}):
                keys = json.dumps(statement.get("Condition", {})).lower()
                assert any(key in keys for key in scoping), (lid, statement.get("Sid"))


def _alone(config: CustodyConfig) -> Template:
    stack = Stack(App(), "Alone")
    Monitoring(stack, "Monitoring", config=config, key=kms.Key(stack, "Key"))
    return Template.from_stack(stack)


def test_the_alarm_address_is_subscribed_and_its_absence_is_warned_about(synth: Synthesized) -> None:
    subscribed = _alone(CustodyConfig(alarm_email="oncall@example.com"))
    subscribed.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )
    assert not _alone(CustodyConfig()).find_resources("AWS::SNS::Subscription")
    assert synth.config.alarm_email is None  # cdk.json's default: the warning must show
    assert any(item.rule == "Annotation::custody:noAlarmSubscriber" for item in synth.warnings)
    with pytest.raises(ValueError, match="e-mail"):
        CustodyConfig(alarm_email="not an address")


@pytest.mark.parametrize("logical", [naming.PROCESSOR_NOTIFICATIONS, naming.ERASURE_ADMISSIONS])
def test_a_message_waiting_too_long_raises_an_alarm_before_it_expires(cfn: Cfn, logical: str) -> None:
    """A deletion request nobody delivered, an erasure that found no slot: alarmed well before SQS drops it."""
    (queue,) = (
        lid
        for lid in cfn.of_type("AWS::SQS::Queue")
        if cfn.props(lid).get("QueueName") == naming.queue_name(naming.DEFAULT_PREFIX, logical)
    )
    (alarm,) = (
        props
        for props in (cfn.props(lid) for lid in cfn.of_type("AWS::CloudWatch::Alarm"))
        if props.get("MetricName") == "ApproximateAgeOfOldestMessage" and Cfn.refs(props["Dimensions"]) == {queue}
    )
    assert alarm["Threshold"] < cfn.props(queue)["MessageRetentionPeriod"]


# --- 4. API Gateway's CloudWatch role serves every API of the region ------------------------------


def test_the_api_gateway_account_role_is_the_documented_region_wide_one(cfn: Cfn) -> None:
    (account,) = cfn.of_type("AWS::ApiGateway::Account").values()
    (role,) = Cfn.refs(account["Properties"]["CloudWatchRoleArn"])
    managed = json.dumps(cfn.props(role)["ManagedPolicyArns"])
    assert APIGATEWAY_LOGS_POLICY in managed
    assert not cfn.policy_statements(role) or all(
        "logs:" not in json.dumps(statement["Action"]) for statement in cfn.policy_statements(role)
    )
    for lid, statement in cfn.all_policy_statements():
        if "logs:DescribeLogGroups" in as_list(statement["Action"]):
            assert statement["Resource"] == "*", lid  # it supports no resource-level scope


# --- 5. the state machine logs where CloudWatch Logs' resource policy need not grow ----------------


def test_the_workflow_logs_under_vended_logs(cfn: Cfn) -> None:
    (machine,) = cfn.of_type("AWS::StepFunctions::StateMachine").values()
    (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    (group,) = Cfn.refs(destination)
    assert cfn.props(group)["LogGroupName"].startswith(VENDED_LOGS)


# --- 6. names that are unique per account carry the region; the prefix is checked ----------------


def test_account_wide_names_carry_the_region(cfn: Cfn) -> None:
    named = [
        *(cfn.props(lid)["RoleName"] for lid in cfn.of_type("AWS::IAM::Role") if "RoleName" in cfn.props(lid)),
        *(cfn.props(lid)["DashboardName"] for lid in cfn.of_type("AWS::CloudWatch::Dashboard")),
        *(cfn.props(lid)["TrailName"] for lid in cfn.of_type("AWS::CloudTrail::Trail")),
    ]
    assert len(named) == 3
    for name in named:
        assert {"Ref": "AWS::Region"} in name["Fn::Join"][1], name


def test_a_prefix_that_would_make_a_name_too_long_is_refused() -> None:
    limit = next(63 - (length - len("p")) for kind, length, _ in longest_names("p") if kind == "S3 bucket")
    CustodyConfig(prefix="p" * limit)
    with pytest.raises(ValueError, match="S3 bucket"):
        CustodyConfig(prefix="p" * (limit + 1))
    with pytest.raises(ValueError, match="lower-case"):
        CustodyConfig(prefix="Acme_CRM")
    for kind, length, maximum in longest_names(naming.DEFAULT_PREFIX):
        assert length <= maximum, kind


# --- 7. the smaller ones ------------------------------------------------------------------------


def test_callbacks_are_granted_on_star_because_send_task_has_no_resource_type(cfn: Cfn) -> None:
    for lid, statement in cfn.all_policy_statements():
        actions = as_list(statement["Action"])
        if any(action.startswith("states:SendTask") for action in actions):
            assert statement["Resource"] == "*", lid


def _identity(config: CustodyConfig) -> Template:
    stack = Stack(App(), "Alone")
    Identity(stack, "Identity", config=config)
    return Template.from_stack(stack)


def test_pools_send_through_ses_when_an_address_is_given(synth: Synthesized) -> None:
    pools = _identity(CustodyConfig(ses_from_email="no-reply@example.com")).find_resources("AWS::Cognito::UserPool")
    assert pools
    for pool in pools.values():
        email = pool["Properties"]["EmailConfiguration"]
        assert email["EmailSendingAccount"] == "DEVELOPER"
        assert "no-reply@example.com" in json.dumps(email)
    assert any(item.rule == "Annotation::custody:cognitoDefaultEmail" for item in synth.warnings)


def test_the_app_targets_the_aws_partition_only() -> None:
    context = json.loads(CDK_JSON.read_text())["context"]
    assert context["@aws-cdk/core:target-partitions"] == ["aws"]


def test_notices_go_from_the_configured_sender_and_an_unset_one_is_warned_about(synth: Synthesized) -> None:
    """custody:noticeSender, else custody:sesFromEmail, else the placeholder nobody can verify (warned)."""
    assert CustodyConfig(notice_sender="privacy@shop.example").notice_from == "privacy@shop.example"
    assert CustodyConfig(ses_from_email="no-reply@shop.example").notice_from == "no-reply@shop.example"
    assert CustodyConfig().notice_from == naming.DEFAULT_NOTICE_SENDER
    assert synth.config.notice_sender is None  # cdk.json's default: the warning must show
    assert any(item.rule == "Annotation::custody:noNoticeSender" for item in synth.warnings)
    with pytest.raises(ValueError, match="e-mail"):
        CustodyConfig(notice_sender="not an address")
    with pytest.raises(ValueError, match="custody:jurisdiction"):
        CustodyConfig(jurisdiction="utopia")
