"""parliament over every IAM document of the synthesized template, with reasoned exceptions.

`python -m devstack.iam.lint [TEMPLATE]` (`make lint` runs it on `cdk.out/CrmCustody.template.json`)
resolves each identity policy (managed, inline) and resource policy (key, bucket, topic, queue,
table) to the names it would have in an account (`devstack.iam.template.Resolver`), runs
parliament's checks on it and prints every finding no waiver below explains. Exit status 1
when one is left, or when a waiver no longer matches anything (a stale reason misleads).
Trust policies are not linted: parliament reads them as identity policies without a Resource.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from devstack.iam.template import Bindings, Resolver

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
TEMPLATE: Final = Path("cdk.out/CrmCustody.template.json")
_RESOURCE_POLICIES: Final = {
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::DynamoDB::Table": ("ResourcePolicy", "PolicyDocument"),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::Policy": ("PolicyDocument",),
}


@dataclass(frozen=True)
class Finding:
    resource: str  # logical id
    kind: str  # CloudFormation type
    issue: str  # parliament's issue code
    detail: str


@dataclass(frozen=True)
class Waiver:
    """Findings of `issue` on resources of `kind` whose detail matches `detail`, and why they stand."""

    issue: str
    kind: str
    detail: str  # a regular expression that matches some part of the finding's detail
    reason: str

    def explains(self, finding: Finding) -> bool:
        somewhere = re.fullmatch(f".*(?:{self.detail}).*", finding.detail, re.DOTALL)
        return finding.issue == self.issue and finding.kind == self.kind and somewhere is not None


WAIVERS: Final = (
    Waiver(
        "RESOURCE_STAR",
        "AWS::KMS::Key",
        r"kms:",
        "In a key policy, Resource '*' means the key the policy is attached to (KMS developer guide, key "
        "policies); it can name no other key.",
    ),
    Waiver(
        "UNKNOWN_CONDITION_FOR_ACTION",
        "AWS::KMS::Key",
        r"kms:EncryptionContext:aws:logs:arn for action kms:Describe",
        "The CloudWatch Logs statement is the one its user guide gives for encrypting log groups (kms:Describe* "
        "under an aws:logs:arn encryption context); the Describe actions without that context are not granted by it.",
    ),
    Waiver(
        "MISMATCHED_TYPE",
        "AWS::KMS::Key",
        r"ArnLike requires a value of type Arn but given String",
        "kms:EncryptionContext:aws:logs:arn holds a log group ARN, compared with ArnLike exactly as the CloudWatch "
        "Logs user guide writes it; parliament types every encryption-context key as a plain string.",
    ),
    Waiver(
        "MISMATCHED_TYPE",
        "AWS::S3::BucketPolicy",
        r"s3:TlsVersion requires a value of type Numeric",
        "CDK's minimum-TLS deny compares s3:TlsVersion with the number 1.2; parliament cannot read a JSON number "
        "in a condition (it fails), so the linter hands it the number as text, which it then calls non-numeric.",
    ),
    Waiver(
        "UNKNOWN_CONDITION_FOR_ACTION",
        "AWS::S3::BucketPolicy",
        r"Unknown condition s3:TlsVersion for action s3:",
        "The minimum-TLS statement denies s3:* below TLS 1.2; the few S3 actions without the s3:TlsVersion key are "
        "left to the aws:SecureTransport deny beside it.",
    ),
    Waiver(
        "RESOURCE_MISMATCH",
        "AWS::IAM::ManagedPolicy",
        r"states:(DescribeExecution|ListExecutions)",
        "parliament asks for every resource format an action supports; the auditor reads the Standard workflow's "
        "executions and lists its state machine, so express-execution and map-run ARNs do not apply.",
    ),
)


def bindings(template: Mapping[str, Any]) -> Bindings:
    """Names of keys and pools as they would be in an account (the template cannot know them)."""
    resources = template["Resources"].values()
    aliases = [r["Properties"]["AliasName"] for r in resources if r["Type"] == "AWS::KMS::Alias"]
    pools = [r["Properties"]["UserPoolName"] for r in resources if r["Type"] == "AWS::Cognito::UserPool"]
    return Bindings(
        ACCOUNT,
        REGION,
        key_arns_by_alias={alias: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{alias.split('/')[-1]}" for alias in aliases},
        user_pool_arns_by_name={pool: f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_x" for pool in pools},
    )


def documents(template: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(logical id, type, resolved policy document) for every policy the template holds."""
    resolver = Resolver(template, bindings(template))
    for logical, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        found: list[Any] = []
        if kind == "AWS::IAM::Role":
            found = [inline["PolicyDocument"] for inline in props.get("Policies", [])]
        elif kind in _RESOURCE_POLICIES:
            document: Any = props
            for key in _RESOURCE_POLICIES[kind]:
                document = document.get(key) if isinstance(document, dict) else None
            found = [document] if document else []
        for document in found:
            yield logical, kind, _numbers_as_text(resolver.resolve(document))


def _numbers_as_text(value: Any) -> Any:
    """parliament fails on a JSON number in a condition; IAM compares condition values as text anyway."""
    if isinstance(value, dict):
        return {key: _numbers_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_text(item) for item in value]
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def findings(template: Mapping[str, Any]) -> list[Finding]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources, which warns
        from parliament import analyze_policy_string

    found = []
    for logical, kind, document in documents(template):
        policy = analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
        for finding in policy.findings:
            found.append(Finding(logical, kind, finding.issue, json.dumps(finding.detail)))
    return found


@dataclass(frozen=True)
class Report:
    unexplained: list[Finding]
    stale: list[Waiver]
    explained: int


def lint(template: Mapping[str, Any]) -> Report:
    found = findings(template)
    unexplained = [finding for finding in found if not any(item.explains(finding) for item in WAIVERS)]
    stale = [item for item in WAIVERS if not any(item.explains(finding) for finding in found)]
    return Report(unexplained, stale, len(found) - len(unexplained))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else TEMPLATE
    report = lint(json.loads(path.read_text()))
    for finding in report.unexplained:
        print(f"{finding.resource} ({finding.kind}): {finding.issue} {finding.detail}")
    for item in report.stale:
        print(f"stale waiver: {item.issue} on {item.kind} ({item.detail}) matches nothing")
    print(f"parliament: {report.explained} findings explained, {len(report.unexplained)} unexplained, {path}")
    return 1 if report.unexplained or report.stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
