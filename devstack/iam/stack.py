"""One stack's authorization model, compiled from the synthesized template.

`compile_stack(template, bindings)` resolves every IAM policy, bucket, queue, topic, table and key
policy and Lambda permission of the template against the local stack's names and returns a
`CompiledStack`: the `Authority` that decides, which role each function and state machine runs
as, and the encryption key of each table, bucket, queue and topic (for the KMS calls those
services make on the caller's behalf). Pure data in, data out: no AWS call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.iam.authority import Authority
from devstack.iam.policy import Principal, Statement, compile_document
from devstack.iam.template import Bindings, Resolver

_RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": ("Bucket", "Arn"),
    "AWS::SQS::QueuePolicy": ("Queues", "Arn"),
    "AWS::SNS::TopicPolicy": ("Topics", "Arn"),
}


@dataclass(frozen=True)
class CompiledStack:
    authority: Authority
    bindings: Bindings
    function_roles: Mapping[str, str]  # physical function name -> role ARN
    state_machine_roles: Mapping[str, str]  # physical state machine name -> role ARN
    encryption_keys: Mapping[str, str]  # table / bucket / queue / topic ARN -> KMS key ARN
    partition_keys: Mapping[str, str] = field(default_factory=dict)  # table ARN -> its HASH key's attribute

    def function(self, function_name: str) -> Principal:
        """The principal a deployed function runs as; KeyError names an unknown function."""
        return Principal(f"function:{function_name}", self.bindings.account, arn=self.function_roles[function_name])

    def state_machine(self, name: str) -> Principal:
        return Principal(f"state-machine:{name}", self.bindings.account, arn=self.state_machine_roles[name])

    def service(self, service: str) -> Principal:
        return Principal(f"service:{service}", self.bindings.account, service=service)


def compile_stack(template: Mapping[str, Any], bindings: Bindings) -> CompiledStack:
    resolver = Resolver(template, bindings)
    resources: Mapping[str, Mapping[str, Any]] = template.get("Resources", {})

    def arn(logical: Any) -> str:
        found = Resolver._logical_of(logical)
        return str(resolver.resolve({"Fn::GetAtt": [found, "Arn"]})) if found else str(resolver.resolve(logical))

    identities: dict[str, list[Statement]] = defaultdict(list)
    policies: dict[str, list[Statement]] = defaultdict(list)
    keys: set[str] = set()
    function_roles, machine_roles, encryption, partition_keys = {}, {}, {}, {}
    for logical, resource in resources.items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            statements = compile_document(resolver.resolve(props["PolicyDocument"]))
            for role in props.get("Roles", []):
                identities[arn(role)] += statements
        elif kind == "AWS::IAM::Role":
            for inline in props.get("Policies", []):
                identities[arn({"Ref": logical})] += compile_document(resolver.resolve(inline["PolicyDocument"]))
        elif kind in _RESOURCE_POLICIES:
            target_property, _ = _RESOURCE_POLICIES[kind]
            targets = props[target_property] if isinstance(props[target_property], list) else [props[target_property]]
            for target in targets:
                policies[arn(target)] += compile_document(resolver.resolve(props["PolicyDocument"]))
        elif kind == "AWS::DynamoDB::Table":
            table = arn({"Ref": logical})
            partition_keys[table] = next(key["AttributeName"] for key in props["KeySchema"] if key["KeyType"] == "HASH")
            if "ResourcePolicy" in props:
                policies[table] += compile_document(resolver.resolve(props["ResourcePolicy"]["PolicyDocument"]))
        elif kind == "AWS::KMS::Key":
            key_arn = arn({"Ref": logical})
            keys.add(key_arn)
            policies[key_arn] += compile_document(resolver.resolve(props["KeyPolicy"]))
        elif kind == "AWS::Lambda::Permission":
            policies[arn(props["FunctionName"])].append(_lambda_permission(resolver.resolve(props)))
        elif kind == "AWS::Lambda::Function":
            function_roles[str(resolver.resolve(props["FunctionName"]))] = arn(props["Role"])
        elif kind == "AWS::StepFunctions::StateMachine":
            machine_roles[str(resolver.resolve(props["StateMachineName"]))] = arn(props["RoleArn"])
        key = _encryption_key(kind, props)
        if key is not None:
            encryption[arn({"Ref": logical})] = arn(key)
    authority = Authority(
        identities={role: tuple(statements) for role, statements in identities.items()},
        resource_policies={owner: tuple(statements) for owner, statements in policies.items()},
        keys=frozenset(keys),
    )
    return CompiledStack(authority, bindings, function_roles, machine_roles, encryption, partition_keys)


def _encryption_key(kind: str, props: Mapping[str, Any]) -> Any:
    """The customer managed key a table, bucket, queue or topic is encrypted with, as written."""
    if kind == "AWS::DynamoDB::Table":
        return (props.get("SSESpecification") or {}).get("KMSMasterKeyId")
    if kind == "AWS::S3::Bucket":
        rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", [])
        for rule in rules:
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms":
                return default.get("KMSMasterKeyID")
        return None
    if kind in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
        return props.get("KmsMasterKeyId")
    return None


def _lambda_permission(props: Mapping[str, Any]) -> Statement:
    """`AWS::Lambda::Permission` as the statement Lambda adds to the function's resource policy."""
    principal = str(props["Principal"])
    conditions: dict[str, dict[str, str]] = {}
    if "SourceArn" in props:
        conditions["ArnLike"] = {"aws:SourceArn": str(props["SourceArn"])}
    if "SourceAccount" in props:
        conditions["StringEquals"] = {"aws:SourceAccount": str(props["SourceAccount"])}
    kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
    return Statement.compile(
        {
            "Effect": "Allow",
            "Principal": {kind: principal},
            "Action": props["Action"],
            "Resource": props["FunctionName"],
            **({"Condition": conditions} if conditions else {}),
        }
    )
