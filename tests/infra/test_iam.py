"""Least privilege: explicit actions on named resources, and each function only what it needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from custody.declared import catalog, datamap, naming
from custody.declared.notices import NOTICE_KEY_CONTEXT, NOTICE_KEY_PARTITION_PREFIX
from infra.access import ACCESS, BucketAccess, IdentityUse, TableAccess
from infra.constructs import policies
from tests.infra.conftest import Cfn, Synthesized, as_list
from tests.infra.stores import BUCKET, TABLE, key_id, personal_resource_ids, store_ids

FUNCTION_NAMES = [item.name for item in catalog.FUNCTIONS]


def test_access_is_declared_for_exactly_the_catalog_functions() -> None:
    assert set(ACCESS) == set(FUNCTION_NAMES)


def test_access_names_only_stores_the_data_map_declares() -> None:
    tables = {store.name for store in datamap.table_stores()} | set(datamap.OPERATIONAL_TABLES)
    buckets = {store.name for store in datamap.bucket_stores()}
    for name, access in ACCESS.items():
        assert set(access.tables) <= tables, name
        assert set(access.buckets) <= buckets, name


def test_the_erasure_steps_reach_every_store_of_the_data_map() -> None:
    steps = ACCESS["erasure_steps"]
    for store in datamap.table_stores():
        shredded = store.classification is datamap.Classification.KEY_MATERIAL
        assert steps.tables[store.name] is (TableAccess.SHRED if shredded else TableAccess.ERASE)
    for bucket in datamap.bucket_stores():
        assert steps.buckets[bucket.name] is BucketAccess.ERASE


def test_no_wildcard_action_anywhere(cfn: Cfn) -> None:
    for lid, statement in cfn.all_policy_statements():
        if statement["Effect"] == "Allow":
            assert "*" not in as_list(statement["Action"]), lid


def test_no_wildcard_action_on_a_personal_data_resource_or_the_data_key(synth: Synthesized) -> None:
    guarded = personal_resource_ids(synth.cfn) | {key_id(synth.cfn, "data", synth.config.prefix)}
    checked = 0
    for lid, statement in synth.cfn.all_policy_statements():
        if statement["Effect"] == "Allow" and guarded & Cfn.refs(statement.get("Resource")):
            checked += 1
            wild = [action for action in as_list(statement["Action"]) if "*" in action]
            assert not wild, f"{lid}: {wild}"
    assert checked


def _role_of(cfn: Cfn, function: str, prefix: str) -> str:
    for res in cfn.of_type("AWS::Lambda::Function").values():
        if res["Properties"]["FunctionName"] == naming.function_name(prefix, function):
            (role,) = Cfn.refs(res["Properties"]["Role"])
            return role
    raise KeyError(function)


def _grants(cfn: Cfn, role: str) -> Iterator[tuple[str, set[str], dict[str, Any]]]:
    """(action, logical ids of its resources, statement) for every Allow of the role."""
    for statement in cfn.policy_statements(role):
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            yield action, Cfn.refs(statement.get("Resource")), statement


def _actions_on(cfn: Cfn, role: str, resource: str) -> set[str]:
    return {action for action, resources, _ in _grants(cfn, role) if resource in resources}


@pytest.mark.parametrize("function", FUNCTION_NAMES)
def test_each_role_reaches_exactly_the_stores_its_access_declares(synth: Synthesized, function: str) -> None:
    cfn, access = synth.cfn, ACCESS[function]
    role = _role_of(cfn, function, synth.config.prefix)
    tables, buckets = store_ids(cfn, TABLE), store_ids(cfn, BUCKET)
    reached = {lid for _, resources, _ in _grants(cfn, role) for lid in resources}
    assert {name for name, lid in tables.items() if lid in reached} == set(access.tables)
    assert {name for name, lid in buckets.items() if lid in reached and name in access.buckets} == set(access.buckets)
    assert not {name for name, lid in buckets.items() if lid in reached} - set(access.buckets) - {"audit"}
    for name, level in access.tables.items():
        scan = {"dynamodb:Scan"} if name in access.scans else set()
        unconditioned = {
            action
            for action, resources, statement in _grants(cfn, role)
            if tables[name] in resources and "Condition" not in statement
        }
        assert unconditioned == set(policies.TABLE_ACTIONS[level]) | scan, (function, name)
        conditioned = {
            action
            for action, resources, statement in _grants(cfn, role)
            if tables[name] in resources and "Condition" in statement
        }
        # A shredder may put a tombstone, only under the attribute condition (test_iam_authorization.py).
        assert conditioned == ({"dynamodb:PutItem"} if level is TableAccess.SHRED else set()), (function, name)


def test_only_bounded_operational_tables_are_scanned() -> None:
    personal = {store.name for store in datamap.table_stores()}
    scanned = {function: access.scans for function, access in ACCESS.items() if access.scans}
    assert scanned == {"processors": frozenset({"processors"})}
    for function, tables in scanned.items():
        assert not tables & personal, function
        assert tables <= set(ACCESS[function].tables), function


def test_the_erase_api_function_cannot_touch_profiles_or_delete_anything_personal(synth: Synthesized) -> None:
    cfn = synth.cfn
    role = _role_of(cfn, "erase", synth.config.prefix)
    assert not _actions_on(cfn, role, store_ids(cfn, TABLE)["profiles"])
    for lid in personal_resource_ids(cfn):
        assert not _actions_on(cfn, role, lid)
    assert "states:StartExecution" in {action for action, _, _ in _grants(cfn, role)}


def test_only_the_erasure_steps_delete_from_personal_stores_or_identities(synth: Synthesized) -> None:
    cfn = synth.cfn
    deletes = {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "s3:DeleteObject", "s3:DeleteObjectVersion"}
    personal = {
        lid
        for cfn_type in (TABLE, BUCKET)
        for name, lid in store_ids(cfn, cfn_type).items()
        if name in {store.name for store in datamap.STORES}
    }
    for function in FUNCTION_NAMES:
        role = _role_of(cfn, function, synth.config.prefix)
        granted = {action for action, resources, _ in _grants(cfn, role) if resources & personal}
        cognito = {action for action, _, _ in _grants(cfn, role) if action.startswith("cognito-idp:")}
        if function == "erasure_steps":
            assert deletes <= granted
            assert "cognito-idp:AdminDeleteUser" in cognito
        else:
            # Writers may overwrite their own items (READ_WRITE), but never delete S3 objects or identities.
            assert not granted & {"s3:DeleteObject", "s3:DeleteObjectVersion"}, function
            # Reading a customer's user (the exporter copies their e-mail address) is all another may do.
            assert cognito <= {"cognito-idp:ListUsers"}, function
            assert bool(cognito) == (ACCESS[function].customer_identities is IdentityUse.READ), function


def test_direct_use_of_the_data_key_is_exactly_the_declared_customer_key_use(synth: Synthesized) -> None:
    cfn = synth.cfn
    data_key = key_id(cfn, "data", synth.config.prefix)
    for function in FUNCTION_NAMES:
        role = _role_of(cfn, function, synth.config.prefix)
        direct = {
            action
            for action, resources, statement in _grants(cfn, role)
            if data_key in resources and "Condition" not in statement
        }
        use = ACCESS[function].customer_keys
        assert direct == (set(policies.KEY_ACTIONS[use]) if use else set()), function


def test_the_withdrawal_and_erasure_functions_never_unwrap_customer_keys() -> None:
    # They handle ids only: a role that cannot unwrap a key cannot read a sealed field. The erasure steps'
    # notice keys are made and unwrapped under `notice_request_id` only, a context no customer key has.
    for function in ("erase", "erasure_steps"):
        assert ACCESS[function].customer_keys is None
    assert [name for name, access in ACCESS.items() if access.notice_keys] == ["erasure_steps"]


def test_key_material_goes_into_the_key_store_only_under_a_notice_partition(synth: Synthesized) -> None:
    """Besides the tombstones a shredder puts, the erasure steps put key material only as notice keys."""
    cfn = synth.cfn
    key_store = store_ids(cfn, TABLE)["subject_keys"]
    role = _role_of(cfn, "erasure_steps", synth.config.prefix)
    puts = [
        statement
        for action, resources, statement in _grants(cfn, role)
        if action == "dynamodb:PutItem" and key_store in resources
    ]
    conditions = sorted(json.dumps(statement.get("Condition"), sort_keys=True) for statement in puts)
    assert len(conditions) == 2, conditions
    assert any('"dynamodb:Attributes"' in condition for condition in conditions)
    (notice,) = [statement for statement in puts if "dynamodb:LeadingKeys" in json.dumps(statement["Condition"])]
    assert notice["Condition"]["ForAllValues:StringLike"] == {
        "dynamodb:LeadingKeys": [f"{NOTICE_KEY_PARTITION_PREFIX}*"]
    }


def test_store_encryption_is_reachable_only_through_dynamodb_and_s3(synth: Synthesized) -> None:
    """...or, for the erasure steps only, directly under a notice key's encryption context (never a customer's)."""
    cfn = synth.cfn
    data_key = key_id(cfn, "data", synth.config.prefix)
    notice_context = f"kms:EncryptionContext:{NOTICE_KEY_CONTEXT}"
    for function in FUNCTION_NAMES:
        for _, resources, statement in _grants(cfn, _role_of(cfn, function, synth.config.prefix)):
            if data_key in resources and "Condition" in statement:
                if "Null" in statement["Condition"]:
                    assert ACCESS[function].notice_keys, function
                    assert statement["Condition"] == {"Null": {notice_context: "false"}}, function
                    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"], function
                    continue
                services = as_list(statement["Condition"]["StringEquals"]["kms:ViaService"])
                assert services, function
                assert {service["Fn::Join"][1][0] for service in services} <= {"dynamodb.", "s3."}, function


def test_object_access_is_confined_to_the_customer_prefixes(synth: Synthesized) -> None:
    cfn = synth.cfn
    data_map_buckets = {store.name for store in datamap.bucket_stores()}
    personal_buckets = {lid for name, lid in store_ids(cfn, BUCKET).items() if name in data_map_buckets}
    for lid, statement in cfn.all_policy_statements():
        if statement["Effect"] != "Allow":
            continue
        for resource in as_list(statement.get("Resource")):
            if not Cfn.refs(resource) & personal_buckets:
                continue
            if isinstance(resource, dict) and "Fn::Join" in resource:
                assert resource["Fn::Join"][1][-1] == "/" + policies.SUBJECT_OBJECTS, lid
            elif "Condition" not in statement:
                # s3:prefix does not apply to these: the one bucket-wide listing, of uploads in progress
                assert set(as_list(statement["Action"])) <= _UNPREFIXED, lid
            else:
                assert statement["Condition"]["StringLike"]["s3:prefix"] == [policies.SUBJECT_OBJECTS], lid


_UNPREFIXED = {action for actions in policies.BUCKET_UNPREFIXED_ACTIONS.values() for action in actions}


@pytest.mark.parametrize("function", FUNCTION_NAMES)
def test_each_role_s_bucket_actions_are_exactly_its_declared_levels(synth: Synthesized, function: str) -> None:
    """Per bucket of `infra.access.ACCESS`: the prefixed listing, the object actions and the unprefixed
    listing of its level, each in its own statement, and nothing more."""
    cfn, access = synth.cfn, ACCESS[function]
    role = _role_of(cfn, function, synth.config.prefix)
    buckets = store_ids(cfn, BUCKET)
    for name, level in access.buckets.items():
        granted: dict[str, set[str]] = {"prefixed": set(), "objects": set(), "bucket": set()}
        for action, resources, statement in _grants(cfn, role):
            if buckets[name] not in resources:
                continue
            joined = [r for r in as_list(statement["Resource"]) if isinstance(r, dict) and "Fn::Join" in r]
            kind = "objects" if joined else ("prefixed" if "Condition" in statement else "bucket")
            granted[kind].add(action)
        assert granted == {
            "prefixed": set(policies.BUCKET_LIST_ACTIONS[level]),
            "objects": set(policies.OBJECT_ACTIONS[level]),
            "bucket": set(policies.BUCKET_UNPREFIXED_ACTIONS.get(level, ())),
        }, (function, name)


def test_only_the_exporter_streams_multipart_and_only_into_exports() -> None:
    multipart = {
        (function, name)
        for function, access in ACCESS.items()
        for name, level in access.buckets.items()
        if level is BucketAccess.WRITE_MULTIPART
    }
    assert multipart == {(naming.EXPORTER, "exports")}


def test_every_eraser_can_abort_the_uploads_a_killed_export_leaves() -> None:
    assert "s3:AbortMultipartUpload" in policies.OBJECT_ACTIONS[BucketAccess.ERASE]
    assert policies.BUCKET_UNPREFIXED_ACTIONS[BucketAccess.ERASE] == ["s3:ListBucketMultipartUploads"]
    erasers = {function for function, access in ACCESS.items() if BucketAccess.ERASE in access.buckets.values()}
    assert erasers == {"erasure_steps"}


@pytest.mark.parametrize("function", FUNCTION_NAMES)
def test_lambda_invoke_is_exactly_the_starts_exports_flag(synth: Synthesized, function: str) -> None:
    """A role that `starts_exports` may invoke the exporter's unqualified ARN, no other function and no
    wildcard; every other role may invoke nothing."""
    cfn = synth.cfn
    role = _role_of(cfn, function, synth.config.prefix)
    invokes = [statement for action, _, statement in _grants(cfn, role) if action.startswith("lambda:")]
    if not ACCESS[function].starts_exports:
        assert invokes == [], function
        return
    (statement,) = invokes
    assert as_list(statement["Action"]) == ["lambda:InvokeFunction"]
    (resource,) = as_list(statement["Resource"])
    exporter = naming.function_name(synth.config.prefix, naming.EXPORTER)
    assert resource["Fn::Join"][1][-1] == f":function:{exporter}", resource
    assert "*" not in json.dumps(resource), resource


def test_a_bucket_written_by_multipart_upload_is_declared_so_in_the_data_map() -> None:
    """Erasure aborts unfinished uploads only where the data map says objects arrive that way."""
    multipart = {
        bucket
        for access in ACCESS.values()
        for bucket, level in access.buckets.items()
        if level is BucketAccess.WRITE_MULTIPART
    }
    declared = {store.name for store in datamap.bucket_stores() if store.multipart_uploads}
    assert multipart == declared
