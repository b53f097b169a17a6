"""devstack.iam's evaluator on hand-written policies: matching, conditions, decisions, requests."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.iam.authority import Authority
from devstack.iam.conditions import Condition, Unmodelled, compile_conditions
from devstack.iam.patterns import Kind, matcher
from devstack.iam.policy import Principal, Request, Statement, compile_document
from devstack.iam.requests import Call, NotModelled, authorizations
from devstack.iam.stack import CompiledStack
from devstack.iam.template import Bindings

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Fn"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
BUCKET = "arn:aws:s3:::b"
FUNCTION = Principal("function:fn", ACCOUNT, arn=ROLE)
CLOUDWATCH = Principal("service:cloudwatch", ACCOUNT, service="cloudwatch.amazonaws.com")


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def authority(identity: list[dict[str, Any]], **policies: list[dict[str, Any]]) -> Authority:
    resource_policies = {
        owner: compile_document({"Statement": statements}) for owner, statements in _owners(policies).items()
    }
    return Authority({ROLE: compile_document({"Statement": identity})}, resource_policies, frozenset({KEY}))


def _owners(policies: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {{"key": KEY, "bucket": BUCKET, "table": TABLE}[name]: statements for name, statements in policies.items()}


# --- wildcards --------------------------------------------------------------------------------


def test_actions_match_case_insensitively_with_wildcards() -> None:
    assert matcher(Kind.ACTION, "dynamodb:Get*")("dynamodb:getitem")
    assert matcher(Kind.ACTION, "kms:GenerateDataKey*")("kms:GenerateDataKeyWithoutPlaintext")
    assert not matcher(Kind.ACTION, "dynamodb:GetItem")("dynamodb:GetItems")


def test_arn_wildcards_stay_in_their_segment_unless_they_end_it() -> None:
    assert matcher(Kind.ARN, "arn:aws:s3:::b/subjects/*/*")("arn:aws:s3:::b/subjects/x/documents/y")
    assert matcher(Kind.ARN, "arn:aws:states:*:*:execution:m:*")("arn:aws:states:us-east-1:1:execution:m:run:1")
    assert not matcher(Kind.ARN, "arn:aws:states:us*1:1:x")("arn:aws:states:us:east:1:1:x")
    assert not matcher(Kind.ARN, f"{TABLE}/index/a")(TABLE)
    assert matcher(Kind.ARN, "*")("*")
    assert not matcher(Kind.ARN, "arn:aws:states:us-east-1:1:stateMachine:m")("*")


def _reference_arn_match(pattern: str, value: str) -> bool:
    """IAM's rule written the slow way: `*` spans colons only when it ends a segment."""
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        spans = not rest or rest[0] == ":"
        return any(
            _reference_arn_match(rest, value[cut:]) for cut in range(len(value) + 1) if spans or ":" not in value[:cut]
        )
    if head == "?":
        return bool(value) and value[0] != ":" and _reference_arn_match(rest, value[1:])
    return bool(value) and value[0] == head and _reference_arn_match(rest, value[1:])


@given(st.text("ab:/*?", max_size=8), st.text("ab:/", max_size=8))
def test_arn_matching_agrees_with_a_reference_implementation(pattern: str, value: str) -> None:
    if pattern == "*":
        return  # a lone `*` is the wildcard resource and matches anything, colons included
    assert matcher(Kind.ARN, pattern)(value) is _reference_arn_match(pattern, value)


@given(st.text("ab:/.*?", max_size=8), st.text("ab:/.", max_size=8))
def test_string_like_is_a_glob_over_the_whole_string(pattern: str, value: str) -> None:
    assert matcher(Kind.STRING, pattern)(value) is fnmatch.fnmatchcase(value, pattern)


@given(st.text("abc/", min_size=1, max_size=12), st.data())
def test_a_value_matches_any_pattern_made_by_starring_part_of_it(value: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(value)))
    end = data.draw(st.integers(start, len(value)))
    assert matcher(Kind.ARN, value[:start] + "*" + value[end:])(value)
    assert matcher(Kind.ACTION, (value[:start] + "*" + value[end:]).upper())(value)


# --- conditions -------------------------------------------------------------------------------


def holds(block: dict[str, Any], **context: str) -> bool:
    return all(
        condition.holds({k.replace("_", ":"): v for k, v in context.items()}) for condition in compile_conditions(block)
    )


def test_condition_operators_the_template_uses() -> None:
    assert holds({"StringEquals": {"kms:ViaService": ["dynamodb.x", "s3.x"]}}, kms_viaservice="s3.x")
    assert not holds({"StringEquals": {"kms:ViaService": "s3.x"}}, kms_viaservice="sqs.x")
    assert holds({"StringLike": {"s3:prefix": ["subjects/*/*"]}}, s3_prefix="subjects/a/documents/")
    assert not holds({"StringLike": {"s3:prefix": ["subjects/*/*"]}}, s3_prefix="subjects/")
    assert holds(
        {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:r:1:alarm:*"}}, aws_sourcearn="arn:aws:cloudwatch:r:1:alarm:x"
    )
    assert holds({"Bool": {"aws:SecureTransport": "false"}}, aws_securetransport="false")
    assert not holds({"Bool": {"aws:SecureTransport": False}}, aws_securetransport="true")
    assert holds({"NumericLessThan": {"s3:TlsVersion": 1.2}}, s3_tlsversion="1.0")
    assert not holds({"NumericLessThan": {"s3:TlsVersion": 1.2}}, s3_tlsversion="1.3")


def test_a_missing_key_fails_a_condition_except_negated_ifexists_and_null() -> None:
    assert not holds({"StringLike": {"s3:prefix": "subjects/*"}})
    assert holds({"StringNotLike": {"s3:prefix": "subjects/*"}})
    assert holds({"StringLikeIfExists": {"s3:prefix": "subjects/*"}})
    assert holds({"Null": {"s3:prefix": "true"}})
    assert not holds({"Null": {"s3:prefix": "false"}})


def test_set_operators_on_multivalued_keys() -> None:
    any_value = Condition("ForAnyValue:StringEquals", "aws:sourcearn", ("a",))
    all_values = Condition("ForAllValues:StringEquals", "aws:sourcearn", ("a", "b"))
    assert any_value.holds({"aws:sourcearn": ("a", "c")})
    assert not all_values.holds({"aws:sourcearn": ("a", "c")})
    assert all_values.holds({"aws:sourcearn": ("a", "b")})
    with pytest.raises(Unmodelled):
        Condition("StringEquals", "aws:sourcearn", ("a",)).holds({"aws:sourcearn": ("a",)})


@pytest.mark.parametrize(
    "block",
    [
        {"DateGreaterThan": {"aws:SourceArn": "2020-01-01"}},
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
        {"ForSomeValue:StringEquals": {"aws:SourceArn": "x"}},
    ],
)
def test_an_operator_or_key_that_is_not_modelled_fails_closed(block: dict[str, Any]) -> None:
    policy = authority([allow("s3:GetObject", "*", Condition=block)])
    verdict = policy.decide(FUNCTION, Request("s3:GetObject", f"{BUCKET}/k", {"aws:sourcearn": "x"}))
    assert not verdict.allowed
    assert "fail closed" in verdict.reason
    assert "not modelled" in verdict.reason


# --- decisions --------------------------------------------------------------------------------


def test_allow_needs_a_matching_action_and_resource() -> None:
    policy = authority([allow(["dynamodb:GetItem", "dynamodb:Query"], [TABLE, f"{TABLE}/index/*"])])
    assert policy.decide(FUNCTION, Request("dynamodb:Query", f"{TABLE}/index/by_status")).allowed
    refused = policy.decide(FUNCTION, Request("dynamodb:Scan", TABLE))
    assert not refused.allowed
    assert "not authorized to perform: dynamodb:Scan" in refused.reason


def test_an_explicit_deny_beats_any_allow() -> None:
    deny = {"Effect": "Deny", "NotAction": "kms:GenerateDataKey", "Resource": "*"}
    policy = authority([allow("kms:*", KEY), deny])
    assert policy.decide(FUNCTION, Request("kms:GenerateDataKey", KEY)).allowed is False  # the key policy is missing
    keyed = authority(
        [allow("kms:*", KEY)],
        key=[
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {**deny, "Principal": {"AWS": "*"}, "Condition": {"ArnEquals": {"aws:PrincipalArn": [ROLE]}}},
        ],
    )
    context = {"aws:principalarn": ROLE}
    assert keyed.decide(FUNCTION, Request("kms:GenerateDataKey", KEY, context)).allowed
    refused = keyed.decide(FUNCTION, Request("kms:Decrypt", KEY, context))
    assert not refused.allowed
    assert "explicit deny in a resource-based policy" in refused.reason


def test_the_kms_root_statement_delegates_to_iam_and_naming_the_role_grants_directly() -> None:
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
    assert not authority([], key=[root]).decide(FUNCTION, Request("kms:Decrypt", KEY)).allowed
    assert authority([allow("kms:Decrypt", KEY)], key=[root]).decide(FUNCTION, Request("kms:Decrypt", KEY)).allowed
    named = {**root, "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt"}
    assert authority([], key=[named]).decide(FUNCTION, Request("kms:Decrypt", KEY)).allowed


def test_a_resource_policy_grants_a_service_only_from_the_named_source() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{BUCKET}/*",
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"}},
    }
    policy = authority([], bucket=[statement])
    ours = {"aws:sourcearn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a"}
    theirs = {"aws:sourcearn": f"arn:aws:cloudwatch:{REGION}:999999999999:alarm:a"}
    assert policy.decide(CLOUDWATCH, Request("s3:PutObject", f"{BUCKET}/k", ours)).allowed
    assert not policy.decide(CLOUDWATCH, Request("s3:PutObject", f"{BUCKET}/k", theirs)).allowed
    assert not policy.decide(FUNCTION, Request("s3:PutObject", f"{BUCKET}/k", ours)).allowed


def test_a_resource_policy_naming_only_the_account_grants_nothing_by_itself() -> None:
    root = {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}
    assert not authority([], bucket=[root]).decide(FUNCTION, Request("s3:GetObject", f"{BUCKET}/k")).allowed
    tls = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": [BUCKET, f"{BUCKET}/*"]}
    tls["Condition"] = {"Bool": {"aws:SecureTransport": "false"}}
    policy = authority([allow("s3:GetObject", f"{BUCKET}/*")], bucket=[tls])
    assert policy.decide(FUNCTION, Request("s3:GetObject", f"{BUCKET}/k", {"aws:securetransport": "true"})).allowed
    assert not policy.decide(FUNCTION, Request("s3:GetObject", f"{BUCKET}/k", {"aws:securetransport": "false"})).allowed


def test_not_principal_is_refused_when_compiled() -> None:
    with pytest.raises(Unmodelled):
        Statement.compile({"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "*", "Resource": "*"})


# --- requests ---------------------------------------------------------------------------------


def compiled(encryption: dict[str, str] | None = None) -> CompiledStack:
    bindings = Bindings(ACCOUNT, REGION, key_arns_by_alias={"alias/data": KEY})
    return CompiledStack(authority([]), bindings, {}, {}, encryption or {})


def actions(service: str, operation: str, **params: Any) -> list[tuple[str, str, int | None]]:
    needs = authorizations(Call(service, operation, params), compiled({TABLE: KEY, BUCKET: KEY}))
    return [(need.request.action, need.request.resource, need.part) for need in needs]


def test_a_transaction_is_authorized_item_by_item_plus_the_table_keys() -> None:
    items = [
        {"Put": {"TableName": "t", "Item": {}}},
        {"Update": {"TableName": "u", "Key": {}}},
        {"ConditionCheck": {"TableName": "t", "Key": {}}},
        {"Delete": {"TableName": "u", "Key": {}}},
    ]
    other = TABLE.replace("/t", "/u")
    assert actions("dynamodb", "TransactWriteItems", TransactItems=items) == [
        ("dynamodb:PutItem", TABLE, None),
        ("dynamodb:UpdateItem", other, None),
        ("dynamodb:ConditionCheckItem", TABLE, None),
        ("dynamodb:DeleteItem", other, None),
        ("kms:Decrypt", KEY, None),  # through DynamoDB, for the one table with a customer managed key
    ]
    assert actions("dynamodb", "TransactGetItems", TransactItems=[{"Get": {"TableName": "u", "Key": {}}}]) == [
        ("dynamodb:GetItem", other, None)
    ]


def test_indexes_batches_and_the_kms_context_through_dynamodb() -> None:
    assert actions("dynamodb", "Query", TableName="u", IndexName="pending") == [
        ("dynamodb:Query", TABLE.replace("/t", "/u") + "/index/pending", None)
    ]
    assert [a for a, _, _ in actions("dynamodb", "BatchWriteItem", RequestItems={"t": [], "u": []})] == [
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchWriteItem",
        "kms:Decrypt",
    ]
    need = authorizations(Call("dynamodb", "GetItem", {"TableName": "t"}), compiled({TABLE: KEY}))[1]
    assert need.request.context["kms:viaservice"] == f"dynamodb.{REGION}.amazonaws.com"
    assert need.request.context["kms:encryptioncontext:aws:dynamodb:tablename"] == "t"


def test_s3_objects_versions_listings_and_multi_object_deletes() -> None:
    assert actions("s3", "GetObject", Bucket="b", Key="k", VersionId="v")[0] == (
        "s3:GetObjectVersion",
        f"{BUCKET}/k",
        None,
    )
    assert actions("s3", "PutObject", Bucket="b", Key="k")[1][0] == "kms:GenerateDataKey"
    listing = authorizations(Call("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "subjects/x/"}), compiled())
    assert listing[0].request.context == {"s3:prefix": "subjects/x/"}
    deletes = {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "1"}]}
    assert actions("s3", "DeleteObjects", Bucket="b", Delete=deletes) == [
        ("s3:DeleteObject", f"{BUCKET}/a", 0),
        ("s3:DeleteObjectVersion", f"{BUCKET}/b", 1),
    ]


def test_task_callbacks_have_no_resource_type_and_kms_keys_resolve_from_aliases() -> None:
    assert actions("stepfunctions", "SendTaskSuccess", taskToken="t", output="{}") == [
        ("states:SendTaskSuccess", "*", None)
    ]
    assert actions("kms", "GenerateDataKey", KeyId="alias/data")[0][:2] == ("kms:GenerateDataKey", KEY)
    assert actions("kms", "Decrypt", KeyId=KEY.rsplit("/", 1)[1])[0][1] == KEY


def test_an_operation_that_is_not_modelled_is_said_so() -> None:
    with pytest.raises(NotModelled):
        actions("s3", "PutBucketPolicy", Bucket="b", Policy="{}")
    with pytest.raises(NotModelled):
        actions("ec2", "RunInstances")
