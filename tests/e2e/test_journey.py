"""`make smoke`'s journey against the served stack: everything that exists must hold."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from custody.declared import naming
from devstack import journey
from tests.integration.conftest import ServedStack
from tests.robustness.figures import FIGURES

ALWAYS_BUILT = (
    "Sign up (customer pool, verified e-mail)",
    "The gateway refuses a call without a token",
    "The gateway refuses forged tokens",
    "An authenticated call reaches the right function",
)


@pytest.fixture(scope="module")
def ran(served_stack: ServedStack) -> tuple[journey.Outcome, str]:
    out = io.StringIO()
    outcome = journey.run(served_stack.info, out=out)
    return outcome, out.getvalue()


def test_the_journey_holds_as_far_as_the_capabilities_go(ran: tuple[journey.Outcome, str]) -> None:
    outcome, printed = ran
    assert outcome.exit_status == 0, printed
    done = [result.title for result in outcome.results if result.status is journey.Status.DONE]
    assert done[: len(ALWAYS_BUILT)] == list(ALWAYS_BUILT), printed
    stopped = outcome.stopped_at
    if stopped is not None:
        assert outcome.results[-1] is stopped, "the journey stops at the first capability not built yet"
        assert "not built yet" in printed
    else:
        assert len(done) == len(journey.STEPS)


def test_the_stack_logs_no_personal_data(served_stack: ServedStack, ran: tuple[journey.Outcome, str]) -> None:
    _, printed = ran
    emails = {line.split()[0] for line in printed.splitlines() if "@example.com signed up" in line}
    assert emails, printed
    log = served_stack.log.read_text()
    assert "-> " in log or " -> " in log, "the stack logged its requests (route templates, statuses)"
    for value in (*emails, journey.LEGAL_NAME, "+14155550100"):
        assert value not in log, "the stack's own log must not carry personal data"


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def _places(served_stack: ServedStack) -> dict[str, str]:
    """Everything an operator or auditor can read after the journey, as text, by where it came from."""
    clients = served_stack.clients()
    places = {"stack log (gateway, runtime)": served_stack.log.read_text()}
    logs = clients("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        name = group["logGroupName"]
        for stream in logs.describe_log_streams(logGroupName=name)["logStreams"]:
            events = logs.get_log_events(logGroupName=name, logStreamName=stream["logStreamName"])["events"]
            # Function output: Powertools logs, EMF metrics, exception messages and stack traces.
            places[f"logs {name}/{stream['logStreamName']}"] = "\n".join(event["message"] for event in events)
    sfn = clients("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            places[f"history {execution['name']}"] = json.dumps(history, default=str)
    s3 = clients("s3")
    audit = served_stack.info.resources.buckets[naming.AUDIT_BUCKET]
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=audit):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=audit, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            places[f"audit {version['Key']}"] = body.decode("utf-8", "replace")
    return places


def test_no_submitted_value_is_anywhere_an_operator_or_auditor_reads(
    served_stack: ServedStack, ran: tuple[journey.Outcome, str]
) -> None:
    """Logs, EMF metrics, exception messages, every execution's history and every audit object
    (traces: none locally — the tracer is off without an X-Ray daemon; see docs/robustness.md)."""
    _, printed = ran
    emails = {line.split()[0] for line in printed.splitlines() if "@example.com signed up" in line}
    # Free text and identifiers, not the enumerated choices (a channel named "email" is a word, not a leak).
    submitted = {key: value for key, value in journey.PROFILE.items() if key != "preferences"}
    values = {*emails, journey.LEGAL_NAME, *(text for text in _strings(submitted) if len(text) >= 5)}
    places = _places(served_stack)
    assert any(name.startswith("history ") for name in places), "the journey's erasure left a history"
    assert any(name.startswith("audit ") for name in places), "the journey left audit events"
    assert any(name.startswith("logs /aws/lambda/") for name in places), "the functions logged"
    hits = [(name, value) for name, text in places.items() for value in values if value in text]
    FIGURES.add("leak_scans", len(places))
    FIGURES.add("leak_hits", len(hits))
    FIGURES.detail("leak_scans_by_kind", Counter(name.split(" ", 1)[0] for name in places))
    assert not hits, [f"{value[:3]}… in {name}" for name, value in hits]
