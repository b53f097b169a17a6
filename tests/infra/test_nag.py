"""cdk-nag: no unacknowledged finding in the four packs, and every acknowledgement reasoned."""

from __future__ import annotations

import re

from infra import docs, nag
from infra.app import STACK_ID
from infra.constructs.web import DEPLOYMENT_HANDLER
from tests.infra.conftest import Synthesized

RULE_ID = re.compile(r"^(AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R5|PCI\.DSS\.321)-[A-Za-z0-9]+(\[.+\])?$")
HOLLOW = re.compile(
    r"^\s*(n/?a|not (needed|applicable|required)|ok|false positive|suppress(ed)?|todo|ignore)\W*$", re.I
)
CONCERNS = {"Keys", "Data", "Audit", "Monitoring", "Identity", "Functions", "Workflow", "Api", "Backup", "Web"}


def test_the_four_packs_ran() -> None:
    assert [pack.read_pack_name for pack in nag.packs(None)] == ["AwsSolutions", *nag.COMPLIANCE_PACKS]


def test_no_unacknowledged_findings(synth: Synthesized) -> None:
    report = "\n".join(f"{finding.rule} ({finding.severity}) at {finding.path}" for finding in synth.findings)
    assert not synth.findings, f"cdk-nag findings:\n{report}"


def test_every_acknowledgement_names_a_rule_and_gives_a_real_reason(synth: Synthesized) -> None:
    assert synth.acknowledgements
    for item in synth.acknowledgements:
        assert RULE_ID.match(item.rule), item
        assert len(item.reason.strip()) >= nag.MIN_REASON_LENGTH, item
        assert not HOLLOW.match(item.reason), item


def test_acknowledgements_sit_on_resources_never_on_the_stack_or_a_whole_concern(synth: Synthesized) -> None:
    for item in synth.acknowledgements:
        parts = item.path.split("/")
        assert parts[0] == STACK_ID, item
        assert len(parts) >= 3, f"blanket acknowledgement on {item.path}: {item.rule}"
        # CDK's BucketDeployment function is a singleton of the stack: acknowledged there, by infra.constructs.web.
        assert parts[1] in CONCERNS or parts[1].startswith(DEPLOYMENT_HANDLER), item


def test_acknowledgements_reach_the_template_metadata(synth: Synthesized) -> None:
    recorded = [
        rule
        for resource in synth.cfn.resources.values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert {rule["id"] for rule in recorded} == {item.rule for item in synth.acknowledgements}
    assert all(len(rule["reason"]) >= nag.MIN_REASON_LENGTH for rule in recorded)


def test_the_documented_acknowledgements_are_the_codes(synth: Synthesized) -> None:
    documented = docs.block(docs.DOC.read_text())
    assert documented == docs.render(synth.acknowledgements), "run `.venv/bin/python -m infra.docs`"
