"""The record of processing activities (GDPR art. 30), checked against the data map it is made from.

Every purpose, category and registered processor appears with its legal basis, sensitivity, retention
and terms, in each format: the JSON round-trips, the CSV parses (stdlib csv) one row per purpose, the
Markdown's tables parse (markdown-it-py, GitHub's table syntax). The checked-in docs/ropa.md is what the
declarations print now. The command works offline with --declared-only.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
from markdown_it import MarkdownIt

from custody.declared import datamap
from custody.declared import ropa as declared
from custody.declared.settings import Settings
from custody.subprocessors.registry import Agreement
from ops import cli, ropa

AGREEMENT = Agreement.model_validate(
    {
        "processor_id": "mail-house",
        "name": "Mailing House Ltd",
        "version": "2026-11-a",
        "signed_on": date(2026, 11, 1),
        "purposes": ["crm_core", "marketing"],
        "categories": ["contact", "preferences"],
        "commitments": {
            "purpose_limitation": True,
            "confidentiality": True,
            "deletion_days": 30,
            "onward_transfer_requires_approval": True,
        },
        "principal": "client123",
        "updated_at": "2026-11-02T10:00:00.000Z",
        "updated_by": "00000000-0000-4000-8000-000000000000",
    }
)
DECLARED = ropa.build(None, None, declared.CONTROLLER)
DEPLOYED = ropa.build(Settings(region="eu-central-1", backup_retention_days=14), [AGREEMENT], declared.CONTROLLER)


def _tables(markdown: str) -> list[list[list[str]]]:
    """Every table of the document as rows of cell texts (the header row first), as a renderer parses them."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    tables: list[list[list[str]]] = []
    row: list[str] | None = None  # the row being read, None between rows
    for token in tokens:
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close" and row is not None:
            tables[-1].append(row)
            row = None
    return tables


def test_the_checked_in_record_is_what_the_declarations_print_now() -> None:
    assert ropa.DOC.read_text() == ropa.document(), "docs/ropa.md is stale: run `.venv/bin/custody ropa --write`"


@pytest.mark.parametrize("record", [DECLARED, DEPLOYED], ids=["declared", "deployed"])
def test_every_purpose_and_category_is_in_the_record_with_its_basis_and_retention(record: dict[str, Any]) -> None:
    purposes = {item["name"]: item for item in record["purposes"]}
    for purpose in (*datamap.PURPOSE_DECLARATIONS, datamap.SHARING_PURPOSE, datamap.RECORD_KEEPING_PURPOSE):
        shown = purposes[purpose.name]
        assert shown["legal_basis"] == purpose.legal_basis.value
        assert shown["legal_basis_article"] == purpose.legal_basis.article
        assert shown["special_category_condition"] == purpose.special_condition
        assert (shown["essential"], shown["objectable"]) == (purpose.essential, purpose.objectable)
    categories = {item["name"]: item for item in record["categories"]}
    assert list(categories) == [category.name for category in datamap.CATEGORIES]
    for category in datamap.CATEGORIES:
        shown = categories[category.name]
        assert (shown["sensitivity"], shown["store"], shown["retention_days"]) == (
            category.sensitivity.value,
            category.store,
            category.retention_days,
        )
        assert shown["purposes"] == (list(category.purposes) or [datamap.RECORD_KEEPING])
        # Every category is held for a purpose the record lists, and for whom.
        assert any(category.name in item["categories"] for item in record["purposes"]), category.name
        assert any(category.name in item["categories"] for item in record["data_subjects"]), category.name
    retained = {item["what"]: item for item in record["retention"]}
    assert {category.name for category in datamap.CATEGORIES} <= set(retained)
    assert {"inactive customers", "backups", "point-in-time recovery"} <= set(retained)
    for category in datamap.CATEGORIES:  # what the law keeps says which law, on which basis, for how long
        if category.obligation is not None:
            obligation = datamap.obligation(category.obligation)
            rule = retained[category.name]["rule"]
            assert obligation.name in rule, rule
            assert obligation.legal_basis in rule, rule
            assert f"{obligation.period(Settings().jurisdiction).years} years" in rule, rule
    assert [item["name"] for item in record["security_measures"]] == [item.name for item in declared.SECURITY_MEASURES]
    assert record["controller"]["name"] == declared.CONTROLLER.name


def test_a_deployment_brings_its_region_periods_and_processors_with_their_terms() -> None:
    assert DECLARED["processors"] is None
    assert DECLARED["transfers"]["region"] == ropa.DECLARED_REGION
    assert DEPLOYED["transfers"]["region"] == "eu-central-1"
    assert {item["what"]: item["days"] for item in DEPLOYED["retention"]}["backups"] == 14
    (processor,) = DEPLOYED["processors"]
    assert processor == {
        "processor_id": "mail-house",
        "name": "Mailing House Ltd",
        "agreement_version": "2026-11-a",
        "signed_on": "2026-11-01",
        "status": "active",
        "purposes": ["crm_core", "marketing"],
        "categories": ["contact", "preferences"],
        "purpose_limitation": True,
        "confidentiality": True,
        "deletion_days": 30,
        "onward_transfer_requires_approval": True,
        "deletion_channel": "sqs",
    }
    sharing = {item["name"]: item for item in DEPLOYED["purposes"]}["sharing:mail-house"]
    assert sharing["legal_basis"] == "consent"
    assert sharing["categories"] == ["contact", "preferences"]


@pytest.mark.parametrize("record", [DECLARED, DEPLOYED], ids=["declared", "deployed"])
def test_the_json_round_trips(record: dict[str, Any]) -> None:
    assert json.loads(ropa.render_json(record)) == record


@pytest.mark.parametrize("record", [DECLARED, DEPLOYED], ids=["declared", "deployed"])
def test_the_csv_parses_one_row_per_purpose_with_its_basis_categories_and_retention(record: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(ropa.render_csv(record))))
    assert [row["purpose"] for row in rows] == [item["name"] for item in record["purposes"]]
    assert set(rows[0]) == set(ropa.CSV_COLUMNS)
    for row, purpose in zip(rows, record["purposes"], strict=True):
        assert row["legal_basis"] == purpose["legal_basis"]
        assert row["legal_basis_article"] == purpose["legal_basis_article"]
        held = row["personal_data_categories"].split(ropa.LIST_SEPARATOR) if row["personal_data_categories"] else []
        assert held == purpose["categories"]
        for name in held:
            kept = next(item for item in record["categories"] if item["name"] == name)["retention"]
            assert f"{name}: {kept}" in row["retention"]
    if record["processors"]:
        marketing = next(row for row in rows if row["purpose"] == "marketing")
        assert "mail-house (agreement 2026-11-a, deletion within 30 days)" in marketing["processors"]
        assert "mail-house" in next(row for row in rows if row["purpose"] == "sharing:mail-house")["processors"]
        assert "mail-house" not in next(row for row in rows if row["purpose"] == "payments")["processors"]


@pytest.mark.parametrize("record", [DECLARED, DEPLOYED], ids=["declared", "deployed"])
def test_the_markdown_tables_parse_and_hold_every_purpose_category_and_processor(record: dict[str, Any]) -> None:
    tables = _tables(ropa.render_markdown(record))
    cells = [cell for table in tables for row in table for cell in row]
    widths = [{len(row) for row in table} for table in tables]
    assert all(len(width) == 1 for width in widths), "a row of a table has the wrong number of cells"
    purposes = next(table for table in tables if table[0][0] == "purpose")
    assert [row[0].strip("`") for row in purposes[1:]] == [item["name"] for item in record["purposes"]]
    for row, purpose in zip(purposes[1:], record["purposes"], strict=True):
        assert row[1] == f"{purpose['legal_basis']} ({purpose['legal_basis_article']})"
    assert {category.name for category in datamap.CATEGORIES} <= set(cells)
    assert "&lt;" in ropa.render_markdown(record)  # the controller's placeholders are text, not HTML tags
    if record["processors"]:
        assert any("mail-house" in cell for cell in cells)
        assert "30 days" in cells


def test_the_controller_comes_from_the_environment_where_it_is_set() -> None:
    named = declared.CONTROLLER.from_environment({"CUSTODY_CONTROLLER_NAME": "Acme GmbH", "CUSTODY_CONTROLLER_DPO": ""})
    assert named.name == "Acme GmbH"
    assert named.dpo == declared.CONTROLLER.dpo


@pytest.mark.parametrize("form", ["md", "csv", "json"])
def test_the_command_prints_the_declared_record_offline(form: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ropa", "--declared-only", "--format", form], configure_logging=False) == 0
    out = capsys.readouterr().out
    renderers = {"md": ropa.render_markdown, "csv": ropa.render_csv, "json": ropa.render_json}
    assert out == renderers[form](ropa.build(None, None, declared.CONTROLLER.from_environment({})))
