"""Synthesize the CDK app once per session, in process, and share what it produced.

Every infra test reads the same synthesized template, the cdk-nag findings of the same run
and the acknowledgements recorded in the same construct tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from custody.declared import naming
from infra import nag
from infra.config import CustodyConfig
from infra.constructs.web import DEPLOYMENT_FUNCTION
from tests.synth import CDK_JSON, ROOT, synthesis

__all__ = ["CDK_JSON", "ROOT"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.infra)


ANNOTATION = "Annotation::"


@dataclass(frozen=True)
class Finding:
    rule: str
    path: str
    severity: str


class Cfn:
    """The synthesized template as data, with the look-ups the tests share."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.resources.items() if res["Type"] == cfn_type}

    def props(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties", {}))

    @staticmethod
    def tags(resource: dict[str, Any]) -> dict[str, str]:
        tags = resource.get("Properties", {}).get("Tags", [])
        if isinstance(tags, dict):
            return dict(tags)
        return {tag["Key"]: tag["Value"] for tag in tags}

    def tagged(self, cfn_type: str, key: str) -> dict[str, str]:
        """logical id -> value of tag `key`, for every resource of `cfn_type` that has it."""
        found = {}
        for lid, res in self.of_type(cfn_type).items():
            value = self.tags(res).get(key)
            if value is not None:
                found[lid] = value
        return found

    @staticmethod
    def refs(value: Any) -> set[str]:
        """Logical ids a CloudFormation value refers to (Ref, Fn::GetAtt, Fn::Sub)."""
        found: set[str] = set()
        if isinstance(value, dict):
            if "Ref" in value and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
                found.add(value["Ref"])
            if "Fn::GetAtt" in value:
                found.add(value["Fn::GetAtt"][0])
            for item in value.values():
                found |= Cfn.refs(item)
        elif isinstance(value, list):
            for item in value:
                found |= Cfn.refs(item)
        return found

    def policy_statements(self, role_id: str) -> list[dict[str, Any]]:
        """Every Allow/Deny statement that applies to a role: inline, attached IAM::Policy, ManagedPolicy."""
        statements: list[dict[str, Any]] = []
        for policy in self.props(role_id).get("Policies", []):
            statements += _statements(policy["PolicyDocument"])
        for cfn_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for lid in self.of_type(cfn_type):
                props = self.props(lid)
                if role_id in self.refs(props.get("Roles", [])):
                    statements += _statements(props["PolicyDocument"])
        return statements

    def all_policy_statements(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for lid, res in self.resources.items():
            props = res.get("Properties", {})
            if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                for statement in _statements(props["PolicyDocument"]):
                    yield lid, statement
            elif res["Type"] == "AWS::IAM::Role":
                for policy in props.get("Policies", []):
                    for statement in _statements(policy["PolicyDocument"]):
                        yield lid, statement


def catalog_functions(cfn: Cfn) -> dict[str, dict[str, Any]]:
    """Every Lambda function of the catalog: all but CDK's BucketDeployment function (infra.constructs.web),
    which copies the web front end into its bucket at deploy time and is no function of the local stack."""
    site = naming.function_name("", DEPLOYMENT_FUNCTION)
    return {
        lid: res
        for lid, res in cfn.of_type("AWS::Lambda::Function").items()
        if not str(res["Properties"].get("FunctionName", "")).endswith(site)
    }


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Synthesized:
    app: App
    config: CustodyConfig
    outdir: Path
    template_path: Path
    template: Template
    cfn: Cfn
    findings: list[Finding]  # cdk-nag's
    warnings: list[Finding]  # the stack's own deploy-time warnings (Annotations), e.g. no alarm subscriber
    acknowledgements: list[nag.Acknowledged]


@pytest.fixture(scope="session")
def synth() -> Synthesized:
    made = synthesis()
    data = json.loads(made.template_path.read_text())
    reported = _findings(made.outdir / "validation-report.json")
    return Synthesized(
        app=made.app,
        config=CustodyConfig.from_context(made.app.node),
        outdir=made.outdir,
        template_path=made.template_path,
        template=Template.from_json(data),
        cfn=Cfn(data),
        findings=[finding for finding in reported if not finding.rule.startswith(ANNOTATION)],
        warnings=[finding for finding in reported if finding.rule.startswith(ANNOTATION)],
        acknowledgements=list(nag.acknowledgements(made.app)),
    )


@pytest.fixture(scope="session")
def cfn(synth: Synthesized) -> Cfn:
    return synth.cfn


def _findings(report: Path) -> list[Finding]:
    if not report.exists():
        return []
    findings = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                findings.append(Finding(violation["ruleName"], construct["constructPath"], violation["severity"]))
    return findings
