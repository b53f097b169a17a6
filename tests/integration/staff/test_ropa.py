"""`custody ropa` against the local stack: the record holds the registry's agreements with their terms,
registered by a privacy officer through the API, and the stack's own settings."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest

from custody.declared import datamap
from custody.declared.settings import Settings
from ops import cli, target
from tests.integration.conftest import LocalStack
from tests.integration.staff.conftest import agreement


def test_the_record_of_the_local_stack_lists_its_registered_processor_with_its_terms(
    local_stack: LocalStack,
    staff: Any,
    processor: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    processor_id = f"ropa-{uuid.uuid4().hex[:8]}"
    terms = agreement(
        processor(processor_id).sub,
        commitments={**agreement("x")["commitments"], "deletion_days": 21},
        version="2026-12-b",
    )
    registered = staff("privacy_officer").call("PUT", f"/v1/staff/processors/{processor_id}", terms)
    assert registered.status == 200, registered.text
    settings = Settings.from_env(local_stack.resources.environment)
    for name, value in local_stack.resources.environment.items():
        monkeypatch.setenv(name, value)  # the library's clients and settings are the stack's, as --local makes them
    monkeypatch.setenv("CUSTODY_CONTROLLER_NAME", "Vexbury Trading Ltd")
    place = target.Target(settings, local_stack.clients, "the test's local stack", "")
    monkeypatch.setattr(target, "resolve", lambda args: place)
    capsys.readouterr()  # what the functions logged while the agreement was registered

    assert cli.main(["ropa", "--local", "--format", "json"], configure_logging=False) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["controller"]["name"] == "Vexbury Trading Ltd"
    assert record["transfers"]["region"] == settings.region
    (mine,) = [item for item in record["processors"] if item["processor_id"] == processor_id]
    assert (mine["agreement_version"], mine["deletion_days"], mine["status"]) == ("2026-12-b", 21, "active")
    assert (mine["purposes"], mine["categories"]) == (terms["purposes"], terms["categories"])
    assert mine["onward_transfer_requires_approval"] is True
    sharing = {item["name"]: item for item in record["purposes"]}[f"{datamap.SHARING_PREFIX}{processor_id}"]
    assert sharing["legal_basis"] == "consent"

    assert cli.main(["ropa", "--local", "--format", "csv"], configure_logging=False) == 0
    rows = {row["purpose"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert f"{processor_id} (agreement 2026-12-b, deletion within 21 days)" in rows["marketing"]["processors"]
    assert processor_id not in rows["payments"]["processors"]

    assert cli.main(["ropa", "--local"], configure_logging=False) == 0
    markdown = capsys.readouterr().out
    assert f"`{processor_id}` Mailing House Ltd" in markdown
    assert "| 21 days |" in markdown
