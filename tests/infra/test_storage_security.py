"""Encryption, recovery windows, backups and bucket hardening of every store."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from custody.declared import datamap, naming
from tests.infra.conftest import Cfn, Synthesized, as_list
from tests.infra.stores import BUCKET, TABLE, bucket_id, key_id, shredded_tables, store_ids, table_id


def test_every_table_is_encrypted_with_the_data_key(synth: Synthesized) -> None:
    data_key = key_id(synth.cfn, "data", synth.config.prefix)
    tables = synth.cfn.of_type(TABLE)
    assert len(tables) == len(datamap.table_stores()) + len(datamap.OPERATIONAL_TABLES)
    for lid in tables:
        sse = synth.cfn.props(lid)["SSESpecification"]
        assert sse["SSEEnabled"] is True, lid
        assert sse["SSEType"] == "KMS", lid
        assert Cfn.refs(sse["KMSMasterKeyId"]) == {data_key}, lid


def test_every_table_has_point_in_time_recovery(synth: Synthesized) -> None:
    for lid in synth.cfn.of_type(TABLE):
        pitr = synth.cfn.props(lid)["PointInTimeRecoverySpecification"]
        assert pitr["PointInTimeRecoveryEnabled"] is True, lid


def test_shredded_keys_have_the_shortest_recovery_window(synth: Synthesized) -> None:
    windows = {
        name: synth.cfn.props(lid)["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"]
        for name, lid in store_ids(synth.cfn, TABLE).items()
    }
    assert shredded_tables() == {"subject_keys"}
    for name in shredded_tables():
        assert windows[name] == 1  # DynamoDB's minimum
    others = {window for name, window in windows.items() if name not in shredded_tables()}
    assert min(others) > 1
    assert others == {synth.config.pitr_recovery_days}


def test_backups_cover_every_table_but_the_shredded_keys(synth: Synthesized) -> None:
    (selection,) = synth.cfn.of_type("AWS::Backup::BackupSelection").values()
    selected = Cfn.refs(selection["Properties"]["BackupSelection"]["Resources"])
    ids = store_ids(synth.cfn, TABLE)
    assert {ids[name] for name in shredded_tables()}.isdisjoint(selected)
    assert selected == {lid for name, lid in ids.items() if name not in shredded_tables()}


def test_backup_vault_is_encrypted_with_the_data_key_and_locked(synth: Synthesized) -> None:
    (vault,) = synth.cfn.of_type("AWS::Backup::BackupVault").values()
    assert Cfn.refs(vault["Properties"]["EncryptionKeyArn"]) == {key_id(synth.cfn, "data", synth.config.prefix)}
    lock = vault["Properties"]["LockConfiguration"]
    assert lock["MaxRetentionDays"] == synth.config.backup_retention_days
    (plan,) = synth.cfn.of_type("AWS::Backup::BackupPlan").values()
    for rule in plan["Properties"]["BackupPlan"]["BackupPlanRule"]:
        assert rule["Lifecycle"]["DeleteAfterDays"] <= lock["MaxRetentionDays"]


def test_keys_rotate(synth: Synthesized) -> None:
    """Every encryption key rotates; the processor-token key is HMAC, which KMS cannot rotate."""
    keys = synth.cfn.of_type("AWS::KMS::Key")
    assert len(keys) == 5  # data, audit, operations, processor tokens, the web site's
    hmac = [lid for lid in keys if synth.cfn.props(lid).get("KeySpec") == "HMAC_256"]
    assert len(hmac) == 1
    assert synth.cfn.props(hmac[0])["KeyUsage"] == "GENERATE_VERIFY_MAC"
    for lid in set(keys) - set(hmac):
        assert synth.cfn.props(lid)["EnableKeyRotation"] is True, lid


def test_data_buckets_use_sse_kms_with_the_data_key_and_a_bucket_key(synth: Synthesized) -> None:
    data_key = key_id(synth.cfn, "data", synth.config.prefix)
    for store in datamap.bucket_stores():
        (rule,) = synth.cfn.props(bucket_id(synth.cfn, store.name))["BucketEncryption"][
            "ServerSideEncryptionConfiguration"
        ]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert Cfn.refs(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == {data_key}
        assert rule["BucketKeyEnabled"] is True


def test_every_bucket_is_versioned_private_and_tls_only(synth: Synthesized) -> None:
    policies = {
        next(iter(Cfn.refs(res["Properties"]["Bucket"]))): res["Properties"]["PolicyDocument"]
        for res in synth.cfn.of_type("AWS::S3::BucketPolicy").values()
    }
    for lid in synth.cfn.of_type(BUCKET):
        props = synth.cfn.props(lid)
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, lid
        assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        ), lid
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, lid
        assert _denies_plain_http(policies[lid]), lid


def _denies_plain_http(document: dict[str, Any]) -> bool:
    return any(
        statement["Effect"] == "Deny"
        and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        and as_list(statement["Action"]) == ["s3:*"]
        for statement in document["Statement"]
    )


def test_data_and_audit_buckets_log_access_into_the_access_log_bucket(synth: Synthesized) -> None:
    logs = bucket_id(synth.cfn, naming.ACCESS_LOG_BUCKET)
    for name in [store.name for store in datamap.bucket_stores()] + [naming.AUDIT_BUCKET]:
        logging = synth.cfn.props(bucket_id(synth.cfn, name))["LoggingConfiguration"]
        assert Cfn.refs(logging["DestinationBucketName"]) == {logs}, name


def test_audit_bucket_is_under_object_lock_in_compliance_mode(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        BUCKET,
        {
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": synth.config.audit_retention_days}},
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {
                                    "Fn::GetAtt": [key_id(synth.cfn, "audit", synth.config.prefix), "Arn"]
                                },
                            }
                        }
                    )
                ]
            },
        },
    )
    locked = [lid for lid in synth.cfn.of_type(BUCKET) if synth.cfn.props(lid).get("ObjectLockEnabled")]
    assert locked == [bucket_id(synth.cfn, naming.AUDIT_BUCKET)]  # personal-data buckets must stay erasable


def test_exports_expire_with_their_old_versions(synth: Synthesized) -> None:
    exports = datamap.store("exports")
    assert isinstance(exports, datamap.BucketStore)
    (rule,) = synth.cfn.props(bucket_id(synth.cfn, "exports"))["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == exports.expiration_days
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


def test_every_log_group_is_encrypted_and_expires(synth: Synthesized) -> None:
    groups = synth.cfn.of_type("AWS::Logs::LogGroup")
    assert groups
    keys = {key_id(synth.cfn, name, synth.config.prefix) for name in ("audit", "operations")}
    for lid in groups:
        props = synth.cfn.props(lid)
        assert Cfn.refs(props["KmsKeyId"]) <= keys, lid
        assert isinstance(props["RetentionInDays"], int), lid


def test_dead_letter_queues_and_the_alarm_topic_are_encrypted(synth: Synthesized) -> None:
    operations = key_id(synth.cfn, "operations", synth.config.prefix)
    for lid in synth.cfn.of_type("AWS::SQS::Queue"):
        assert Cfn.refs(synth.cfn.props(lid)["KmsMasterKeyId"]) == {operations}
    for lid in synth.cfn.of_type("AWS::SNS::Topic"):
        assert Cfn.refs(synth.cfn.props(lid)["KmsMasterKeyId"]) == {operations}


def test_data_map_tables_are_named_by_naming(synth: Synthesized) -> None:
    for name, lid in store_ids(synth.cfn, TABLE).items():
        assert synth.cfn.props(lid)["TableName"] == naming.table_name(synth.config.prefix, name)
    assert table_id(synth.cfn, "subject_keys")
