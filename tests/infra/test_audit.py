"""The CloudTrail trail and the audit key: tamper-evident, complete, and out of the data roles' reach."""

from __future__ import annotations

import json
from typing import Any

from custody.declared import catalog, datamap, naming
from infra.access import ACCESS
from infra.constructs.audit import TRAIL_PREFIX
from tests.infra.conftest import Cfn, Synthesized, as_list
from tests.infra.stores import BUCKET, TABLE, bucket_id, key_id, store_ids


def _trail(synth: Synthesized) -> dict[str, Any]:
    (trail,) = synth.cfn.of_type("AWS::CloudTrail::Trail").values()
    return dict(trail["Properties"])


def test_trail_is_multi_region_validated_encrypted_and_delivers_to_the_audit_bucket(synth: Synthesized) -> None:
    trail = _trail(synth)
    assert trail["IsMultiRegionTrail"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsLogging"] is True
    assert Cfn.refs(trail["KMSKeyId"]) == {key_id(synth.cfn, "audit", synth.config.prefix)}
    assert Cfn.refs(trail["S3BucketName"]) == {bucket_id(synth.cfn, naming.AUDIT_BUCKET)}
    assert trail["S3KeyPrefix"] == TRAIL_PREFIX
    (log_group,) = Cfn.refs(trail["CloudWatchLogsLogGroupArn"])
    assert "KmsKeyId" in synth.cfn.props(log_group)


def _selector(trail: dict[str, Any], resource_type: str) -> dict[str, Any]:
    for selector in trail["AdvancedEventSelectors"]:
        fields = {item["Field"]: item for item in selector["FieldSelectors"]}
        if fields.get("resources.type", {}).get("Equals") == [resource_type]:
            return fields
    raise AssertionError(f"no data-event selector for {resource_type}")


def test_trail_records_data_events_on_every_personal_table_and_bucket(synth: Synthesized) -> None:
    trail = _trail(synth)
    tables = _selector(trail, "AWS::DynamoDB::Table")
    assert tables["eventCategory"]["Equals"] == ["Data"]
    ids = store_ids(synth.cfn, TABLE)
    assert Cfn.refs(tables["resources.ARN"]["Equals"]) == {ids[store.name] for store in datamap.table_stores()}
    buckets = _selector(trail, "AWS::S3::Object")
    ids = store_ids(synth.cfn, BUCKET)
    assert Cfn.refs(buckets["resources.ARN"]["StartsWith"]) == {ids[store.name] for store in datamap.bucket_stores()}


def test_trail_records_data_events_on_the_erasure_state_machine(synth: Synthesized) -> None:
    machine = _selector(_trail(synth), "AWS::StepFunctions::StateMachine")
    assert machine["eventCategory"]["Equals"] == ["Data"]
    (arn,) = machine["resources.ARN"]["Equals"]
    assert json.dumps(arn).endswith(f':stateMachine:{synth.config.prefix}-erasure"]]}}')


def test_trail_records_every_management_event_kms_included(synth: Synthesized) -> None:
    management = [
        selector
        for selector in _trail(synth)["AdvancedEventSelectors"]
        if {"Field": "eventCategory", "Equals": ["Management"]} in selector["FieldSelectors"]
    ]
    assert len(management) == 1
    (only,) = management[0]["FieldSelectors"]  # no readOnly or eventSource filter: KMS calls are kept
    assert only["Field"] == "eventCategory"


def _function_roles(cfn: Cfn) -> dict[str, str]:
    roles = {}
    for res in cfn.of_type("AWS::Lambda::Function").values():
        name = res["Properties"]["FunctionName"]
        (role,) = Cfn.refs(res["Properties"]["Role"])
        roles[name] = role
    return roles


def test_audit_key_denies_the_data_roles_and_lets_the_ledger_writer_only_encrypt(synth: Synthesized) -> None:
    policy = synth.cfn.props(key_id(synth.cfn, "audit", synth.config.prefix))["KeyPolicy"]["Statement"]
    denies = {
        statement["Sid"]: statement for statement in policy if statement["Effect"] == "Deny" and "Sid" in statement
    }
    roles = _function_roles(synth.cfn)
    writers = {
        roles[naming.function_name(synth.config.prefix, name)]
        for name, access in ACCESS.items()
        if access.writes_ledger
    }
    others = {roles[naming.function_name(synth.config.prefix, item.name)] for item in catalog.FUNCTIONS} - writers
    if others:
        everything = denies["DataRolesNeverUseTheAuditKey"]
        assert everything["Action"] == "kms:*"
        assert Cfn.refs(everything["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == others
    else:  # every function audits its refusals: none is left that may not even encrypt
        assert "DataRolesNeverUseTheAuditKey" not in denies
    reviewers = {
        roles[naming.function_name(synth.config.prefix, name)]
        for name, access in ACCESS.items()
        if access.reviews_audit
    }
    assert reviewers == {roles[naming.function_name(synth.config.prefix, "audit_review")]}
    encrypt_only = denies["LedgerWritersOnlyEncrypt"]
    assert encrypt_only["NotAction"] == "kms:GenerateDataKey"
    assert Cfn.refs(encrypt_only["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == writers - reviewers
    # The auditor's API function writes its refusals and reads the ledger: encrypt, and decrypt through S3 only.
    read_too = denies["LedgerReviewersOnlyEncryptAndRead"]
    assert sorted(read_too["NotAction"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert Cfn.refs(read_too["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == reviewers
    through_s3 = denies["LedgerReviewersDecryptThroughS3Only"]
    assert through_s3["Action"] == "kms:Decrypt"
    assert Cfn.refs(through_s3["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == reviewers
    assert "s3." in json.dumps(through_s3["Condition"]["StringNotEquals"]["kms:ViaService"])


def test_no_function_role_is_granted_more_than_encryption_on_the_audit_key(synth: Synthesized) -> None:
    """But the auditor's API function, which also decrypts the ledger's objects through S3."""
    audit_key = key_id(synth.cfn, "audit", synth.config.prefix)
    reviewer = naming.function_name(synth.config.prefix, "audit_review")
    for name, role in _function_roles(synth.cfn).items():
        for statement in synth.cfn.policy_statements(role):
            if audit_key in Cfn.refs(statement.get("Resource")):
                if name == reviewer and as_list(statement["Action"]) == ["kms:Decrypt"]:
                    assert "s3." in json.dumps(statement["Condition"]["StringEquals"]["kms:ViaService"])
                    continue
                assert as_list(statement["Action"]) == ["kms:GenerateDataKey"], name
