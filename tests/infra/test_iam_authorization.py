"""The synthesized roles and resource policies, decided by devstack.iam as IAM would decide them.

Two kinds of check, both without a running stack:

* regressions: each call the review found AWS would refuse (and the doubtful two) is allowed
  now, by the narrowest grant, and what stays refused is refused;
* service principals, which never call anything locally: every alarm action, EventBridge target
  and dead-letter queue, CloudTrail delivery, S3 access log and API route is allowed for its
  own source only (`aws:SourceArn` / `aws:SourceAccount`), by the target's resource or key policy.
"""

from __future__ import annotations

from typing import Any

import pytest

from custody.declared import catalog, datamap, naming
from devstack.iam.policy import Principal, Request
from devstack.iam.requests import Call, authorizations
from devstack.iam.stack import CompiledStack, compile_stack
from devstack.iam.template import Bindings, Resolver
from infra.access import ACCESS
from infra.constructs import policies
from tests.infra.conftest import Synthesized, as_list

ACCOUNT, REGION, FOREIGN = "123456789012", "us-east-1", "999999999999"
PREFIX = naming.DEFAULT_PREFIX


def _bindings(template: dict[str, Any]) -> Bindings:
    aliases = [r["Properties"]["AliasName"] for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Alias"]
    pools = [
        r["Properties"]["UserPoolName"] for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPool"
    ]
    return Bindings(
        ACCOUNT,
        REGION,
        key_arns_by_alias={alias: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{alias.split('/')[-1]}" for alias in aliases},
        user_pool_arns_by_name={pool: f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool}" for pool in pools},
    )


@pytest.fixture(scope="module")
def compiled(synth: Synthesized) -> CompiledStack:
    return compile_stack(synth.cfn.template, _bindings(synth.cfn.template))


@pytest.fixture(scope="module")
def resolver(synth: Synthesized) -> Resolver:
    return Resolver(synth.cfn.template, _bindings(synth.cfn.template))


def table(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{naming.table_name(PREFIX, name)}"


def allowed(stack: CompiledStack, function: str, action: str, resource: str, **context: str | tuple[str, ...]) -> bool:
    principal = stack.function(naming.function_name(PREFIX, function))
    base = {"aws:principalarn": principal.arn, "aws:securetransport": "true"}
    return stack.authority.decide(principal, Request(action, resource, {**base, **context})).allowed


# --- the calls AWS would have refused ---------------------------------------------------------


def test_verify_may_read_the_key_store_to_prove_the_key_is_shredded(compiled: CompiledStack) -> None:
    assert allowed(compiled, "erasure_steps", "dynamodb:GetItem", table("subject_keys"))
    assert not allowed(compiled, "erasure_steps", "dynamodb:GetItem", table("profiles"))  # erase-only elsewhere
    # Shredding puts a tombstone: the key attributes and `shredded_at`, never key material.
    assert not allowed(compiled, "erasure_steps", "dynamodb:PutItem", table("subject_keys"))
    tombstone = ("subject_id", "key_version", "shredded_at")
    assert allowed(
        compiled, "erasure_steps", "dynamodb:PutItem", table("subject_keys"), **{"dynamodb:attributes": tombstone}
    )
    new_key = (*tombstone[:2], "wrapped_key", "wrapping_key_id", "created_at")
    assert not allowed(
        compiled, "erasure_steps", "dynamodb:PutItem", table("subject_keys"), **{"dynamodb:attributes": new_key}
    )


def test_the_registry_may_be_scanned_by_processors_only(compiled: CompiledStack) -> None:
    assert allowed(compiled, "processors", "dynamodb:Scan", table("processors"))
    assert not allowed(compiled, "processors", "dynamodb:Scan", table("disclosures"))
    for function in ("staff", "erasure_steps", "subject_access"):
        assert not allowed(compiled, function, "dynamodb:Scan", table("processors")), function


@pytest.mark.parametrize("function", ["processors", "staff"])
def test_disclosures_interactions_and_decisions_may_update_the_subject_but_not_replace_it(
    compiled: CompiledStack, function: str
) -> None:
    assert allowed(compiled, function, "dynamodb:UpdateItem", table("subjects"))
    for action in ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
        assert not allowed(compiled, function, action, table("subjects")), action


def test_task_callbacks_are_granted_on_the_only_resource_they_have(compiled: CompiledStack) -> None:
    for action in ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"):
        assert allowed(compiled, "processors", action, "*"), action
        assert not allowed(compiled, "staff", action, "*"), action


def test_a_missing_document_reads_as_403_and_is_told_apart_by_listing_its_own_key(compiled: CompiledStack) -> None:
    bucket = f"arn:aws:s3:::{naming.bucket_name(PREFIX, 'documents', f'{ACCOUNT}-{REGION}')}"
    # S3 counts s3:ListBucket without a prefix for a GetObject: the prefix-conditioned grant does not count.
    assert not allowed(compiled, "subject_access", "s3:ListBucket", bucket)
    assert allowed(compiled, "subject_access", "s3:ListBucket", bucket, **{"s3:prefix": "subjects/s/documents/d"})
    assert not allowed(compiled, "subject_access", "s3:ListBucket", bucket, **{"s3:prefix": "subjects/"})


# --- service principals -------------------------------------------------------------------------


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r.get("Properties", {}) for lid, r in template["Resources"].items() if r["Type"] == kind}


def service_may(stack: CompiledStack, service: str, action: str, resource: str, source: str, **context: str) -> bool:
    """Allowed for `source` in this account, and refused for the same source in another account."""
    principal = Principal(f"service:{service}", ACCOUNT, service=service)
    ours = {"aws:sourcearn": source, "aws:sourceaccount": ACCOUNT, "aws:securetransport": "true", **context}
    theirs = {**ours, "aws:sourcearn": source.replace(ACCOUNT, FOREIGN), "aws:sourceaccount": FOREIGN}
    verdict = stack.authority.decide(principal, Request(action, resource, ours))
    assert not stack.authority.decide(principal, Request(action, resource, theirs)).allowed, (service, action)
    return verdict.allowed


def service_may_encrypt_with(stack: CompiledStack, service: str, target: str, source: str) -> bool:
    """The key of `target` (a topic, a queue) lets `service` encrypt and decrypt for `source` only."""
    key = stack.encryption_keys[target]
    return all(service_may(stack, service, action, key, source) for action in ("kms:GenerateDataKey", "kms:Decrypt"))


def test_every_alarm_may_publish_to_its_topic_and_use_the_topic_key(
    synth: Synthesized, compiled: CompiledStack, resolver: Resolver
) -> None:
    alarms = _of_type(synth.cfn.template, "AWS::CloudWatch::Alarm")
    assert alarms
    for lid, props in alarms.items():
        source = resolver.resolve({"Fn::GetAtt": [lid, "Arn"]})
        for topic in {resolver.resolve(action) for action in props["AlarmActions"] + props.get("OKActions", [])}:
            assert service_may(compiled, "cloudwatch.amazonaws.com", "sns:Publish", topic, source), lid
            assert service_may_encrypt_with(compiled, "cloudwatch.amazonaws.com", topic, source), lid


def test_every_rule_may_invoke_its_target_and_reach_its_dead_letter_queue(
    synth: Synthesized, compiled: CompiledStack, resolver: Resolver
) -> None:
    rules = _of_type(synth.cfn.template, "AWS::Events::Rule")
    assert rules
    for lid, props in rules.items():
        source = resolver.resolve({"Fn::GetAtt": [lid, "Arn"]})
        for target in props["Targets"]:
            function = resolver.resolve(target["Arn"])
            assert service_may(compiled, "events.amazonaws.com", "lambda:InvokeFunction", function, source), lid
            queue = resolver.resolve(target["DeadLetterConfig"]["Arn"])
            assert service_may(compiled, "events.amazonaws.com", "sqs:SendMessage", queue, source), lid
            assert service_may_encrypt_with(compiled, "events.amazonaws.com", queue, source), lid


def test_the_trail_may_deliver_into_its_prefix_and_encrypt_with_the_audit_key(
    synth: Synthesized, compiled: CompiledStack, resolver: Resolver
) -> None:
    ((lid, props),) = _of_type(synth.cfn.template, "AWS::CloudTrail::Trail").items()
    trail = resolver.resolve({"Fn::GetAtt": [lid, "Arn"]})
    bucket = f"arn:aws:s3:::{resolver.resolve(props['S3BucketName'])}"
    delivered = f"{bucket}/{props['S3KeyPrefix']}/AWSLogs/{ACCOUNT}/CloudTrail/x.json.gz"
    service = "cloudtrail.amazonaws.com"
    assert service_may(compiled, service, "s3:GetBucketAcl", bucket, trail)
    acl = {"s3:x-amz-acl": "bucket-owner-full-control"}
    assert service_may(compiled, service, "s3:PutObject", delivered, trail, **acl)
    assert not service_may(compiled, service, "s3:PutObject", f"{bucket}/ledger/x", trail, **acl)
    context = {"kms:encryptioncontext:aws:cloudtrail:arn": trail}
    assert service_may(compiled, service, "kms:GenerateDataKey", resolver.resolve(props["KMSKeyId"]), trail, **context)


def test_s3_may_write_each_bucket_s_access_logs_under_its_own_prefix(
    synth: Synthesized, compiled: CompiledStack, resolver: Resolver
) -> None:
    buckets = _of_type(synth.cfn.template, "AWS::S3::Bucket")
    logged = {lid: props["LoggingConfiguration"] for lid, props in buckets.items() if "LoggingConfiguration" in props}
    assert logged
    for lid, logging in logged.items():
        source = resolver.resolve({"Fn::GetAtt": [lid, "Arn"]})
        target = resolver.resolve({"Fn::GetAtt": [logging["DestinationBucketName"]["Ref"], "Arn"]})
        key = f"{target}/{logging['LogFilePrefix']}2026-01-01-00-00-00-ABC"
        assert service_may(compiled, "logging.s3.amazonaws.com", "s3:PutObject", key, source), lid


@pytest.mark.parametrize("route", catalog.ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_api_gateway_may_invoke_each_route_s_function_for_that_route_only(
    compiled: CompiledStack, resolver: Resolver, synth: Synthesized, route: catalog.Route
) -> None:
    (api,) = _of_type(synth.cfn.template, "AWS::ApiGateway::RestApi")
    (stage,) = _of_type(synth.cfn.template, "AWS::ApiGateway::Stage").values()
    path = "/".join("x" if part.startswith("{") else part for part in route.path.split("/"))
    base = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{resolver.resolve({'Ref': api})}/{stage['StageName']}"
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{naming.function_name(PREFIX, route.function)}"
    principal = Principal("service:apigateway", ACCOUNT, service="apigateway.amazonaws.com")

    def invoke(source: str) -> bool:
        context = {"aws:sourcearn": source, "aws:sourceaccount": ACCOUNT}
        return compiled.authority.decide(principal, Request("lambda:InvokeFunction", function, context)).allowed

    assert invoke(f"{base}/{route.method}{path}")
    other = "PATCH" if route.method != "PATCH" else "DELETE"
    assert not invoke(f"{base}/{other}{path}/elsewhere")


def test_every_policy_statement_of_the_template_is_modelled(synth: Synthesized) -> None:
    """Nothing in the template is left to fail closed: every condition key it uses is evaluated
    (trust policies aside: nothing assumes a role locally)."""
    from devstack.iam.conditions import known_key

    for lid, resource in synth.cfn.resources.items():
        for document in _documents(resource):
            for statement in as_list(document["Statement"]):
                for operator, keys in statement.get("Condition", {}).items():
                    for key in keys:
                        assert known_key(key), (lid, operator, key)


def _documents(resource: dict[str, Any]) -> list[dict[str, Any]]:
    props = resource.get("Properties", {})
    found = [props[name] for name in ("PolicyDocument", "KeyPolicy") if name in props]
    policies = props.get("Policies", [])
    found += [
        policy["PolicyDocument"] for policy in policies if isinstance(policy, dict) and "PolicyDocument" in policy
    ]
    return found


# --- the local evaluator and the declared access agree, call by call ---------------------------

# Every S3 call devstack.iam translates, as a function under the customer prefixes makes it.
_S3_CALLS: dict[str, dict[str, str]] = {
    "ListObjectsV2": {"Prefix": "subjects/s1/"},
    "ListObjectVersions": {"Prefix": "subjects/s1/"},
    "ListMultipartUploads": {},
    "GetObject": {"Key": "subjects/s1/x"},
    "HeadObject": {"Key": "subjects/s1/x"},
    "PutObject": {"Key": "subjects/s1/x"},
    "CreateMultipartUpload": {"Key": "subjects/s1/x"},
    "UploadPart": {"Key": "subjects/s1/x", "UploadId": "u", "PartNumber": "1"},
    "CompleteMultipartUpload": {"Key": "subjects/s1/x", "UploadId": "u"},
    "AbortMultipartUpload": {"Key": "subjects/s1/x", "UploadId": "u"},
    "ListParts": {"Key": "subjects/s1/x", "UploadId": "u"},
    "DeleteObject": {"Key": "subjects/s1/x"},
    "DeleteObjectVersion": {"Key": "subjects/s1/x", "VersionId": "v"},
}
_BUCKET_STORES = [store.name for store in datamap.bucket_stores()]


def _decide_call(stack: CompiledStack, function: str, call: Call) -> tuple[set[str], bool]:
    """The S3 actions the evaluator asks of `call`, and whether it allows all it asks (KMS included)."""
    principal = stack.function(naming.function_name(PREFIX, function))
    base = {
        "aws:principalarn": principal.arn,
        "aws:principalaccount": ACCOUNT,
        "aws:securetransport": "true",
        "s3:tlsversion": "1.3",
    }
    needs = authorizations(call, stack)
    allowed_all = all(
        stack.authority.decide(
            principal, Request(n.request.action, n.request.resource, {**base, **n.request.context})
        ).allowed
        for n in needs
    )
    return {n.request.action for n in needs if n.request.action.startswith("s3:")}, allowed_all


@pytest.mark.parametrize("function", [item.name for item in catalog.FUNCTIONS])
def test_every_s3_call_is_allowed_locally_exactly_when_the_declared_level_grants_its_actions(
    compiled: CompiledStack, function: str
) -> None:
    """Generated from `infra.access.ACCESS` and `infra.constructs.policies`: for each bucket store and each
    S3 call the evaluator models (multipart uploads included), the synthesized role allows it under
    devstack.iam iff the function's declared level lists every S3 action the call needs - so a level, a
    policy statement and the evaluator's translation of a call cannot drift apart unnoticed."""
    access = ACCESS[function]
    for bucket_store in _BUCKET_STORES:
        level = access.buckets.get(bucket_store)
        declared: set[str] = set()
        if level is not None:
            declared = {
                *policies.BUCKET_LIST_ACTIONS[level],
                *policies.OBJECT_ACTIONS[level],
                *policies.BUCKET_UNPREFIXED_ACTIONS.get(level, ()),
            }
        bucket = naming.bucket_name(PREFIX, bucket_store, f"{ACCOUNT}-{REGION}")
        for operation, params in _S3_CALLS.items():
            api = "DeleteObject" if operation == "DeleteObjectVersion" else operation
            needed, allowed_locally = _decide_call(compiled, function, Call("s3", api, {"Bucket": bucket, **params}))
            assert needed, operation
            assert allowed_locally == (needed <= declared), (function, bucket_store, operation, needed, level)


@pytest.mark.parametrize("function", [item.name for item in catalog.FUNCTIONS])
def test_only_a_function_that_starts_exports_may_invoke_and_only_the_exporter_unqualified(
    compiled: CompiledStack, function: str
) -> None:
    exporter = naming.function_name(PREFIX, naming.EXPORTER)
    starts = ACCESS[function].starts_exports

    def may(params: dict[str, str]) -> bool:
        return _decide_call(compiled, function, Call("lambda", "Invoke", params))[1]

    assert may({"FunctionName": exporter, "InvocationType": "Event"}) == starts
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{exporter}"
    assert may({"FunctionName": arn, "InvocationType": "Event"}) == starts
    assert not may({"FunctionName": exporter, "Qualifier": "1"})  # the grant is the unqualified ARN only
    for other in catalog.FUNCTIONS:
        if other.name != naming.EXPORTER:
            assert not may({"FunctionName": naming.function_name(PREFIX, other.name)}), other.name
