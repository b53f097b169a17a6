"""Retention in the synthesized template: the schedule, the function, the indexes, the SLA alarm, the dashboard."""

from __future__ import annotations

import json
from typing import Any

from custody.declared import datamap, naming
from infra.access import ACCESS
from tests.infra.conftest import Cfn, Synthesized, as_list


def _function_lid(cfn: Cfn, prefix: str, name: str) -> str:
    (lid,) = (
        lid
        for lid, res in cfn.of_type("AWS::Lambda::Function").items()
        if res["Properties"]["FunctionName"] == naming.function_name(prefix, name)
    )
    return lid


def _table(cfn: Cfn, prefix: str, name: str) -> dict[str, Any]:
    (props,) = (
        cfn.props(lid)
        for lid in cfn.of_type("AWS::DynamoDB::Table")
        if cfn.props(lid)["TableName"] == naming.table_name(prefix, name)
    )
    return props


def test_the_schedule_runs_the_sweep_daily_and_the_sla_hourly(synth: Synthesized) -> None:
    cfn = synth.cfn
    retention = _function_lid(cfn, synth.config.prefix, "retention")
    rules = {props["Name"]: props for props in (cfn.props(lid) for lid in cfn.of_type("AWS::Events::Rule"))}
    sweep = rules[synth.config.name("retention-sweep")]
    sla = rules[synth.config.name("retention-sla")]
    assert sweep["ScheduleExpression"] == f"cron(0 {synth.config.retention_sweep_hour_utc} * * ? *)"
    assert sla["ScheduleExpression"] == "rate(1 hour)"
    for rule, task in ((sweep, "sweep"), (sla, "sla")):
        (target,) = rule["Targets"]
        assert Cfn.refs(target["Arn"]) == {retention}
        assert json.loads(target["Input"]) == {"task": task}
        assert "DeadLetterConfig" in target
    (operations,) = (lid for lid in cfn.of_type("AWS::KMS::Key") if "Operations" in lid)
    (events_may_encrypt,) = (
        statement
        for statement in cfn.props(operations)["KeyPolicy"]["Statement"]
        if statement.get("Principal") == {"Service": "events.amazonaws.com"}
        and statement.get("Sid") == "EventBridgeDeliversRetentionDeadLetters"
    )
    assert events_may_encrypt["Condition"]["ArnEquals"]["aws:SourceArn"]
    permissions = [cfn.props(lid) for lid in cfn.of_type("AWS::Lambda::Permission")]
    assert any(
        Cfn.refs(props["FunctionName"]) == {retention} and props["Principal"] == "events.amazonaws.com"
        for props in permissions
    )


def test_the_retention_function_is_told_the_retention_settings(synth: Synthesized) -> None:
    env = synth.cfn.props(_function_lid(synth.cfn, synth.config.prefix, "retention"))["Environment"]["Variables"]
    assert env["CUSTODY_INACTIVITY_DAYS"] == str(synth.config.inactivity_days)
    assert env["CUSTODY_RETENTION_BATCH_MAX"] == str(synth.config.retention_batch_max)
    assert env["CUSTODY_BACKUP_RETENTION_DAYS"] == str(synth.config.backup_retention_days)
    assert env["CUSTODY_PITR_RECOVERY_DAYS"] == str(synth.config.pitr_recovery_days)
    assert env["CUSTODY_ACTIVITY_EPOCH_MONTH"] == synth.config.activity_epoch_month


def test_the_retention_role_reaches_no_personal_store() -> None:
    access = ACCESS["retention"]
    # erasure_slots: it starts erasures through admission (a slot, or the admission queue)
    assert set(access.tables) == {"subjects", "requests", "audit_chains", "erasure_slots"}
    assert not access.buckets
    assert access.customer_keys is None
    assert not access.customer_identities
    assert access.start_erasure


def test_the_indexes_are_declared_in_the_data_map_and_exist(synth: Synthesized) -> None:
    for table in ("subjects", "requests"):
        props = _table(synth.cfn, synth.config.prefix, table)
        synthesized = {
            index["IndexName"]: [key["AttributeName"] for key in index["KeySchema"]]
            for index in props.get("GlobalSecondaryIndexes", [])
        }
        declared = {
            index.name: [index.partition_key, index.sort_key] for index in datamap.OPERATIONAL_TABLES[table].indexes
        }
        assert synthesized == declared, table
    assert datamap.INACTIVITY_INDEX in {i.name for i in datamap.OPERATIONAL_TABLES["subjects"].indexes}


def test_the_sweep_may_query_the_indexes_it_reads(synth: Synthesized) -> None:
    cfn = synth.cfn
    (policy,) = (
        cfn.props(lid)
        for lid in cfn.of_type("AWS::IAM::ManagedPolicy")
        if cfn.props(lid)["Description"] == "Least privilege of the retention function."
    )
    index_resources = json.dumps(policy["PolicyDocument"])
    assert f"/index/{datamap.INACTIVITY_INDEX}" in index_resources
    assert f"/index/{datamap.RETENTION_END_INDEX}" in index_resources
    assert f"/index/{datamap.REQUEST_STATUS_INDEX}" in index_resources
    actions = {action for statement in policy["PolicyDocument"]["Statement"] for action in as_list(statement["Action"])}
    assert "dynamodb:Scan" not in actions
    assert "states:StartExecution" in actions


def test_the_sla_alarm_watches_the_oldest_open_erasure(synth: Synthesized) -> None:
    alarms = [props for props in (synth.cfn.props(lid) for lid in synth.cfn.of_type("AWS::CloudWatch::Alarm"))]
    (sla,) = (alarm for alarm in alarms if alarm.get("MetricName") == "OldestOpenErasureAgeSeconds")
    assert sla["Threshold"] == synth.config.erasure_sla_days * 86_400 < 31 * 86_400
    assert sla["Statistic"] == "Maximum"
    assert sla["Dimensions"] == [{"Name": "service", "Value": "custody-retention"}]
    (topic,) = synth.cfn.of_type("AWS::SNS::Topic")
    assert Cfn.refs(sla["AlarmActions"]) == {topic}


def test_the_dashboard_shows_request_ages_outcomes_and_the_sweep(synth: Synthesized) -> None:
    (dashboard,) = (synth.cfn.props(lid) for lid in synth.cfn.of_type("AWS::CloudWatch::Dashboard"))
    body = json.dumps(dashboard["DashboardBody"])
    for metric in (
        "OldestOpenErasureAgeSeconds",
        "OpenErasures",
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "RetentionErasuresStarted",
        "RetentionCandidates",
        "HeldErasures",
        "HeldErasuresPastDue",
        "RetentionObligationsEnded",
    ):
        assert metric in body, metric


def test_backups_keep_recovery_points_at_most_the_documented_maximum(synth: Synthesized) -> None:
    cfn = synth.cfn
    (vault,) = (cfn.props(lid) for lid in cfn.of_type("AWS::Backup::BackupVault"))
    (plan,) = (cfn.props(lid) for lid in cfn.of_type("AWS::Backup::BackupPlan"))
    lifetimes = {rule["Lifecycle"]["DeleteAfterDays"] for rule in plan["BackupPlan"]["BackupPlanRule"]}
    assert lifetimes == {synth.config.backup_retention_days}
    assert vault["LockConfiguration"]["MaxRetentionDays"] == synth.config.backup_retention_days
    keys = _table(cfn, synth.config.prefix, "subject_keys")
    assert keys["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"] == synth.config.shredded_pitr_recovery_days
    profiles = _table(cfn, synth.config.prefix, "profiles")
    assert profiles["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"] == synth.config.pitr_recovery_days
