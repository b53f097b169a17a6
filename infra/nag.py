"""cdk-nag 3.x: the four rule packs, and the one way this code acknowledges a finding.

An acknowledgement is attached to the resource it concerns, names the rule (and, for
IAM5, the exact wildcard finding), and says why the rule does not apply there. They are
written into the template's metadata too (`cdk_nag.rules_to_suppress`), so the template
itself carries its audit trail; docs/infrastructure.md lists them, and a test keeps that
list honest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cdk_nag
from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 30

AWS_SOLUTIONS = "AwsSolutions"
HIPAA = "HIPAA.Security"
NIST = "NIST.800.53.R5"
PCI = "PCI.DSS.321"
COMPLIANCE_PACKS = (HIPAA, NIST, PCI)


def packs(scope: IConstruct) -> list[cdk_nag.NagPack]:
    options: dict[str, Any] = {"verbose": True, "write_suppressions_to_cloud_formation": True}
    return [
        cdk_nag.AwsSolutionsChecks(scope, **options),
        cdk_nag.HIPAASecurityChecks(scope, **options),
        cdk_nag.NIST80053R5Checks(scope, **options),
        cdk_nag.PCIDSS321Checks(scope, **options),
    ]


def acknowledge(resource: IConstruct, rule: str, reason: str) -> None:
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"The acknowledgement of {rule} on {resource.node.path} needs a real reason")
    Validations.of(resource).acknowledge(Acknowledgment(id=rule, reason=reason))


def checkov_skip(resource: IConstruct, check: str, reason: str) -> None:
    """Skip one checkov check on this resource only, with its reason (CloudFormation `Metadata.checkov`).

    `make posture` runs checkov on the synthesized template; docs/robustness.md lists every skip.
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"The checkov skip of {check} on {resource.node.path} needs a real reason")
    child = resource.node.default_child if isinstance(resource.node.default_child, CfnResource) else resource
    if not isinstance(child, CfnResource):
        raise TypeError(f"{resource.node.path} is not a CloudFormation resource")
    existing = child.get_metadata("checkov") or {}
    skips = [item for item in existing.get("skip", []) if item.get("id") != check]
    child.add_metadata("checkov", {"skip": [*skips, {"id": check, "comment": reason}]})


def acknowledge_in_packs(
    resource: IConstruct, rule: str, reason: str, packs: tuple[str, ...] = COMPLIANCE_PACKS
) -> None:
    """Acknowledge one rule of the compliance packs (named `<pack>-<rule>`) in each pack that has it."""
    for pack in packs:
        acknowledge(resource, f"{pack}-{rule}", reason)


def acknowledge_wildcard(resource: IConstruct, resource_value: object, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly one wildcard resource of a policy."""
    flat = flatten(Stack.of(resource).resolve(resource_value))
    acknowledge(resource, f"AwsSolutions-IAM5[Resource::{flat}]", reason)


def flatten(value: object) -> str:
    """A resolved CloudFormation value as cdk-nag names it in finding ids (flattenCfnReference)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return str(delimiter).join(flatten(item) for item in items)
        if "Fn::Sub" in value:
            return flatten(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten(value['Ref'])}>"
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class Acknowledged:
    path: str
    rule: str
    reason: str


def acknowledgements(root: IConstruct) -> Iterator[Acknowledged]:
    """Every acknowledgement recorded under `root`, in construct-tree order."""
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != key or not entry.data:
                continue
            for qualified, reason in dict(entry.data).items():
                yield Acknowledged(construct.node.path, _unqualified(qualified), str(reason))


def _unqualified(rule: str) -> str:
    prefix = "annotation::"
    return rule[len(prefix) :] if rule.lower().startswith(prefix) else rule
