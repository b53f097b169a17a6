"""cfn-lint on the synthesized template, asl-validator on the erasure workflow."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from devstack.iam import lint
from infra.constructs.workflow import ASL
from tests.infra.conftest import ROOT, Synthesized

ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def test_cfn_lint_finds_nothing(synth: Synthesized) -> None:
    matches = lint_file(Path(synth.template_path), config=ManualArgs(regions=["us-east-1"]))
    problems = [f"{match.rule.id} {match.message} ({'/'.join(map(str, match.path))})" for match in matches]
    assert not [problem for problem in problems if problem.startswith("E")], "\n".join(problems)
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not ASL_VALIDATOR.exists(), reason="node_modules is missing: run `make setup` (npm ci)")
def test_asl_validator_accepts_the_erasure_workflow() -> None:
    result = subprocess.run(  # noqa: S603 - a fixed local tool on a repository file
        [str(ASL_VALIDATOR), "--json-path", str(ASL), "--silent"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(ASL.read_text())["StartAt"]


def test_parliament_finds_nothing_unexplained_in_any_policy(synth: Synthesized) -> None:
    report = lint.lint(synth.cfn.template)
    assert not report.unexplained, report.unexplained
    assert not report.stale, [waiver.issue for waiver in report.stale]
    assert report.explained


def test_parliament_would_flag_a_policy_nobody_explained(synth: Synthesized) -> None:
    template = json.loads(json.dumps(synth.cfn.template))
    template["Resources"]["Planted"] = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:dynamodb:::table/x"}],
            }
        },
    }
    assert [finding.resource for finding in lint.lint(template).unexplained] == ["Planted"]
