"""Who may write the audit ledger (append only) and who may read it (the auditor, and nobody else)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from custody.declared import catalog, naming
from infra.access import ACCESS, Access, TableAccess
from infra.app import STACK_ID, build_app
from infra.constructs.policies import TABLE_ACTIONS
from tests.infra.conftest import CDK_JSON, Cfn, Synthesized, as_list
from tests.infra.stores import TABLE, bucket_id, key_id, store_ids


def _role_of(cfn: Cfn, function: str, prefix: str) -> str:
    for resource in cfn.of_type("AWS::Lambda::Function").values():
        if resource["Properties"]["FunctionName"] == naming.function_name(prefix, function):
            (role,) = Cfn.refs(resource["Properties"]["Role"])
            return role
    raise AssertionError(function)


def _touching(statements: list[dict[str, Any]], resource_id: str) -> list[dict[str, Any]]:
    return [statement for statement in statements if resource_id in Cfn.refs(statement.get("Resource"))]


# The relay records nothing: the workflow's `ask_processor` event says a request was sent and the
# acknowledgement route's event that it was answered; each delivery attempt is in the relay's logs
# and metrics (ids only). It touches no customer's data.
NOT_WRITERS = (naming.PROCESSOR_RELAY,)
LEDGER_WRITERS = tuple(
    item.name for item in catalog.FUNCTIONS if not item.identity_trigger and item.name not in NOT_WRITERS
)


def test_every_function_writes_events_and_claims_chain_heads() -> None:
    """Every function but a user pool's trigger (which touches no data and records nothing) and the relay."""
    for name in LEDGER_WRITERS:
        assert ACCESS[name].writes_ledger, name
        assert ACCESS[name].tables["audit_chains"] is TableAccess.READ_WRITE, name
    for item in catalog.FUNCTIONS:
        if item.identity_trigger:
            assert ACCESS[item.name] == Access(tables={}, writes_ledger=False), item.name
    for name in NOT_WRITERS:
        assert not ACCESS[name].writes_ledger, name
        assert "audit_chains" not in ACCESS[name].tables, name


def test_a_writer_may_only_put_under_ledger_and_only_encrypt(synth: Synthesized) -> None:
    cfn, prefix = synth.cfn, synth.config.prefix
    bucket, audit_key = bucket_id(cfn, naming.AUDIT_BUCKET), key_id(cfn, "audit", prefix)
    chains = store_ids(cfn, TABLE)["audit_chains"]
    for function in LEDGER_WRITERS:
        statements = cfn.policy_statements(_role_of(cfn, function, prefix))
        on_bucket = [s for s in _touching(statements, bucket) if not _reads(s)]
        assert [as_list(statement["Action"]) for statement in on_bucket] == [["s3:PutObject"]], function
        assert json.dumps(on_bucket[0]["Resource"]).endswith('/ledger/*"]]}'), function
        on_key = [s for s in _touching(statements, audit_key) if not _reads(s)]
        assert [as_list(statement["Action"]) for statement in on_key] == [["kms:GenerateDataKey"]], function
        reads = [s for s in _touching(statements, bucket) + _touching(statements, audit_key) if _reads(s)]
        assert not reads or ACCESS[function].reviews_audit, function
        on_chains = _touching(statements, chains)
        assert [sorted(as_list(statement["Action"])) for statement in on_chains] == [
            sorted(TABLE_ACTIONS[TableAccess.READ_WRITE])
        ]


def _reads(statement: dict[str, Any]) -> bool:
    return any(action.split(":")[1].startswith(("Get", "List", "Decrypt")) for action in as_list(statement["Action"]))


def test_the_auditors_api_reads_the_ledger_as_the_auditor_does_and_never_the_trail(synth: Synthesized) -> None:
    """The one ledger reviewer: every version under ledger/ (never cloudtrail/), decrypted through S3 only,
    and the erasure executions' history — the AuditorRole's reads, no more."""
    cfn, prefix = synth.cfn, synth.config.prefix
    assert [name for name, access in ACCESS.items() if access.reviews_audit] == ["audit_review"]
    statements = cfn.policy_statements(_role_of(cfn, "audit_review", prefix))
    bucket, audit_key = bucket_id(cfn, naming.AUDIT_BUCKET), key_id(cfn, "audit", prefix)
    reads = [s for s in _touching(statements, bucket) if _reads(s)]
    assert sorted(action for s in reads for action in as_list(s["Action"])) == [
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    ]
    assert "cloudtrail" not in json.dumps(reads)
    (listing,) = [s for s in reads if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["ledger/*"]}}
    (decrypt,) = [s for s in _touching(statements, audit_key) if _reads(s)]
    assert "s3." in json.dumps(decrypt["Condition"]["StringEquals"]["kms:ViaService"])
    states = {action for s in statements for action in as_list(s["Action"]) if action.startswith("states:")}
    assert states == {"states:DescribeExecution", "states:GetExecutionHistory"}


def _auditor(cfn: Cfn) -> tuple[str, list[dict[str, Any]]]:
    (role,) = [lid for lid, res in cfn.of_type("AWS::IAM::Role").items() if "AuditorRole" in lid]
    return role, cfn.policy_statements(role)


def test_the_auditor_assumes_with_mfa_and_only_reads(synth: Synthesized) -> None:
    role, statements = _auditor(synth.cfn)
    (trust,) = synth.cfn.props(role)["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert actions == {
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "kms:Decrypt",
        "dynamodb:GetItem",
        "dynamodb:Query",  # the disposal register: requests by status, the erasure ledger; open requests by due date
        "dynamodb:BatchGetItem",  # the registers: the records of the requests those indexes found
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:ListExecutions",
    }


def test_the_auditor_reaches_the_ledger_trail_chain_heads_and_history_only(synth: Synthesized) -> None:
    cfn, prefix = synth.cfn, synth.config.prefix
    _, statements = _auditor(cfn)
    tables = store_ids(cfn, TABLE)
    reached = set().union(*(Cfn.refs(statement["Resource"]) for statement in statements))
    assert reached & set(tables.values()) == {tables[name] for name in ("audit_chains", "requests", "erasure_ledger")}
    (objects,) = [statement for statement in statements if "s3:GetObject" in as_list(statement["Action"])]
    assert Cfn.refs(objects["Resource"]) == {bucket_id(cfn, naming.AUDIT_BUCKET)}
    assert '/ledger/*"' in json.dumps(objects["Resource"])
    assert '/cloudtrail/*"' in json.dumps(objects["Resource"])
    data_key = key_id(cfn, "data", prefix)
    (through_dynamodb,) = _touching(statements, data_key)
    assert through_dynamodb["Condition"]["StringEquals"]["kms:ViaService"]
    assert "kms:EncryptionContext:aws:dynamodb:tableName" in through_dynamodb["Condition"]["StringEquals"]


def test_the_lake_flag_adds_an_event_data_store_a_channel_and_the_writers_put_to_it(tmp_path: Any) -> None:
    context = json.loads(CDK_JSON.read_text())["context"]
    context.update({"aws:cdk:disable-asset-staging": True, "custody:cloudTrailLake": True})
    app = build_app(context=context, outdir=str(tmp_path))
    stack = app.node.find_child(STACK_ID)
    template = Template.from_stack(stack)  # type: ignore[arg-type]
    template.resource_count_is("AWS::CloudTrail::EventDataStore", 1)
    template.resource_count_is("AWS::CloudTrail::Channel", 1)
    cfn = Cfn(template.to_json())
    (channel,) = cfn.of_type("AWS::CloudTrail::Channel")
    for function in LEDGER_WRITERS:
        statements = cfn.policy_statements(_role_of(cfn, function, "crm-custody"))
        assert [as_list(s["Action"]) for s in _touching(statements, channel)] == [["cloudtrail-data:PutAuditEvents"]]
    environment = next(iter(cfn.of_type("AWS::Lambda::Function").values()))["Properties"]["Environment"]["Variables"]
    assert Cfn.refs(environment["CUSTODY_AUDIT_LAKE_CHANNEL_ARN"]) == {channel}
