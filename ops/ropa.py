"""The record of processing activities (GDPR art. 30(1)), assembled from the declarations and the registry.

`build` makes the record as one JSON-able dict, from the data map (`custody.declared.datamap`: purposes
with their legal bases, categories with sensitivity, store and retention), the rest of art. 30(1)
(`custody.declared.ropa`: controller, data subjects, recipients, residency, security measures), the
settings of a deployment (region, backup, point-in-time recovery and inactivity periods) and the
sub-processors' agreements (`custody.subprocessors.registry`). Without settings and agreements
(`declared_only`) it says what the declarations say and where a deployment fills the rest in.

The record's sections, by art. 30(1): (a) `controller`; (b) `purposes`, each with its legal basis
(art. 6(1)) and, for special categories, its art. 9(2) condition; (c) `data_subjects` and `categories`;
(d) `recipients` and `processors` with their agreement's terms (art. 28(3)); (e) `transfers`; (f)
`retention`; (g) `security_measures`. `render_markdown`, `render_csv` and `render_json` print it; the
CSV is one row per purpose (a processing activity), the layout a record kept in a spreadsheet has.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from custody.declared import datamap, ropa
from custody.declared.settings import Settings
from custody.subprocessors.registry import Agreement

DOC: Final = Path(__file__).resolve().parents[1] / "docs" / "ropa.md"
RECORD: Final = "GDPR art. 30(1) record of processing activities"
DECLARED_REGION: Final = "the AWS region the stack is deployed to (CUSTODY_REGION; cdk's region)"
LIST_SEPARATOR: Final = "; "
CSV_COLUMNS: Final = (
    "purpose",
    "description",
    "legal_basis",
    "legal_basis_article",
    "special_category_condition",
    "essential",
    "objectable",
    "controller",
    "data_subjects",
    "personal_data_categories",
    "sensitivity",
    "recipients",
    "processors",
    "transfers",
    "retention",
    "security_measures",
)


def build(
    settings: Settings | None, agreements: Sequence[Agreement] | None, controller: ropa.Controller
) -> dict[str, Any]:
    """The record as a JSON-able dict (the sections the module docstring lists).

    `settings` of a deployment give its region and periods; None (declared only) gives the declared
    defaults and names the region as the deployment's. `agreements` are the registry's; None when the
    registry was not read (declared only). Nothing in it is a customer's: names, codes and periods.
    """
    declared = settings is None
    periods = settings or Settings()
    purposes = [_purpose(item) for item in (*datamap.PURPOSE_DECLARATIONS, datamap.SHARING_PURPOSE)]
    purposes.append(_purpose(datamap.RECORD_KEEPING_PURPOSE))
    if agreements:
        purposes += [_sharing(agreement) for agreement in agreements]
    return {
        "record": RECORD,
        "source": "declarations" if declared else "declarations and the deployment's settings",
        "controller": {
            "name": controller.name,
            "contact": controller.contact,
            "representative": controller.representative,
            "dpo": controller.dpo,
        },
        "purposes": purposes,
        "data_subjects": [
            {
                "name": subjects.name,
                "description": subjects.description,
                "categories": list(subjects.categories) or [category.name for category in datamap.CATEGORIES],
            }
            for subjects in ropa.DATA_SUBJECTS
        ],
        "categories": [_category(category, periods) for category in datamap.CATEGORIES],
        "recipients": [{"name": item.name, "description": item.description} for item in ropa.RECIPIENTS],
        "processors": None if agreements is None else [_processor(agreement) for agreement in agreements],
        "transfers": {
            "region": DECLARED_REGION if declared else periods.region,
            "residency": ropa.RESIDENCY,
            "processors": ropa.PROCESSOR_TRANSFERS,
        },
        "retention": _retention(periods, declared),
        "security_measures": [
            {"name": measure.name, "description": measure.description, "where": measure.where}
            for measure in ropa.SECURITY_MEASURES
        ],
    }


def _purpose(purpose: datamap.Purpose) -> dict[str, Any]:
    justified = [
        category.name
        for category in datamap.CATEGORIES
        if (purpose.name in category.purposes)
        or (purpose is datamap.RECORD_KEEPING_PURPOSE and category.processing_record)
        or (purpose is datamap.SHARING_PURPOSE and category.purposes)
    ]
    return {
        "name": purpose.name,
        "description": purpose.description,
        "legal_basis": purpose.legal_basis.value,
        "legal_basis_article": purpose.legal_basis.article,
        "special_category_condition": purpose.special_condition,
        "essential": purpose.essential,
        "objectable": purpose.objectable,
        "categories": justified,
    }


def _sharing(agreement: Agreement) -> dict[str, Any]:
    """The `sharing:<processor_id>` purpose of one registered processor: the categories its agreement covers."""
    shown = _purpose(datamap.SHARING_PURPOSE)
    shown["name"] = f"{datamap.SHARING_PREFIX}{agreement.processor_id}"
    shown["description"] = f"Disclose to {agreement.name} what its agreement {agreement.version} covers."
    shown["categories"] = sorted(agreement.categories)
    return shown


def _category(category: datamap.Category, settings: Settings) -> dict[str, Any]:
    return {
        "name": category.name,
        "description": category.description,
        "sensitivity": category.sensitivity.value,
        "store": category.store,
        "purposes": list(category.purposes) or [datamap.RECORD_KEEPING],
        "retention_days": category.retention_days,
        "retention": _kept(category, settings),
    }


def _kept(category: datamap.Category, settings: Settings) -> str:
    """How long a category is kept, in words: its own period, else while a purpose justifies it."""
    ends = f"erased with the customer (withdrawal, or {settings.inactivity_days} days without activity)"
    if category.retention_days is not None:
        return f"{category.retention_days} days after it is written; {ends}"
    if category.obligation is not None:
        obligation = datamap.obligation(category.obligation)
        period = obligation.period(settings.jurisdiction)
        start = "the end of the calendar year of its date" if period.from_year_end else "its date"
        return (
            f"{period.years} years from {start} under {obligation.name} ({obligation.legal_basis}; "
            f"{period.source}), also after a withdrawal, under a key of its own; then erased with a certificate"
        )
    if category.processing_record:
        return f"kept as the record of the customer's processing; {ends}"
    return f"while a purpose that justifies it is granted; {ends}"


def _retention(settings: Settings, declared: bool) -> list[dict[str, Any]]:
    """The erasure time limits (art. 30(1)(f)): per category, and for the copies the stack keeps."""
    note = " (the declared default; the deployment's custody: context sets it)" if declared else ""
    rows = [
        {"what": category.name, "days": category.retention_days, "rule": _kept(category, settings)}
        for category in datamap.CATEGORIES
    ]
    rows += [
        {
            "what": "inactive customers",
            "days": settings.inactivity_days,
            "rule": f"a customer inactive this long is erased entirely by the retention sweep{note}",
        },
        {
            "what": "backups",
            "days": settings.backup_retention_days,
            "rule": f"recovery points are deleted after this; an erased customer's are unreadable at once{note}",
        },
        {
            "what": "point-in-time recovery",
            "days": settings.pitr_recovery_days,
            "rule": f"an erased row stays restorable this long, encrypted under a shredded key{note}",
        },
    ]
    return rows


def _processor(agreement: Agreement) -> dict[str, Any]:
    commitments = agreement.commitments
    return {
        "processor_id": agreement.processor_id,
        "name": agreement.name,
        "agreement_version": agreement.version,
        "signed_on": agreement.signed_on.isoformat(),
        "status": agreement.status.value,
        "purposes": list(agreement.purposes),
        "categories": list(agreement.categories),
        "purpose_limitation": commitments.purpose_limitation,
        "confidentiality": commitments.confidentiality,
        "deletion_days": commitments.deletion_days,
        "onward_transfer_requires_approval": commitments.onward_transfer_requires_approval,
        "deletion_channel": agreement.deletion_channel.kind,
    }


# --- rendering ------------------------------------------------------------------------------------


def render_json(record: Mapping[str, Any]) -> str:
    """The record as indented JSON, keys in the record's order, ending with a newline."""
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def render_csv(record: Mapping[str, Any]) -> str:
    """One row per purpose (`CSV_COLUMNS`, a header first), lists joined by `; ` (RFC 4180, stdlib csv)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    categories = {item["name"]: item for item in record["categories"]}
    controller = record["controller"]
    subjects = record["data_subjects"]
    processors = record["processors"] or []
    for purpose in record["purposes"]:
        held = [categories[name] for name in purpose["categories"]]
        receiving = [item for item in processors if _receives(item, purpose["name"])]
        writer.writerow(
            {
                "purpose": purpose["name"],
                "description": purpose["description"],
                "legal_basis": purpose["legal_basis"],
                "legal_basis_article": purpose["legal_basis_article"],
                "special_category_condition": purpose["special_category_condition"] or "",
                "essential": _yes(purpose["essential"]),
                "objectable": _yes(purpose["objectable"]),
                "controller": f"{controller['name']}, {controller['contact']}",
                "data_subjects": _joined(
                    item["name"] for item in subjects if set(item["categories"]) & set(purpose["categories"])
                ),
                "personal_data_categories": _joined(purpose["categories"]),
                "sensitivity": _joined(f"{item['name']}: {item['sensitivity']}" for item in held),
                "recipients": _joined(item["name"] for item in record["recipients"]),
                "processors": _joined(
                    f"{item['processor_id']} (agreement {item['agreement_version']}, deletion within"
                    f" {item['deletion_days']} days)"
                    for item in receiving
                ),
                "transfers": f"{record['transfers']['region']}; {record['transfers']['processors']}",
                "retention": _joined(f"{item['name']}: {item['retention']}" for item in held),
                "security_measures": _joined(item["name"] for item in record["security_measures"]),
            }
        )
    return out.getvalue()


def _receives(processor: Mapping[str, Any], purpose: str) -> bool:
    """Whether a processor may receive data for `purpose`: its agreement names it, or it is its own sharing."""
    return purpose in processor["purposes"] or purpose == f"{datamap.SHARING_PREFIX}{processor['processor_id']}"


def render_markdown(record: Mapping[str, Any]) -> str:
    """The record as a Markdown document: one section per part of art. 30(1), tables where it lists."""
    controller = record["controller"]
    lines = [
        "# Record of processing activities",
        "",
        f"The {RECORD}, from the {record['source']}. Printed by `custody ropa`; this file is its declared-only"
        " form (`custody ropa --write`), checked equal to the declarations by `tests/unit/test_ropa.py`.",
        "",
        "## Controller (art. 30(1)(a))",
        "",
        *_table(
            ("field", "details"),
            [
                ("name", controller["name"]),
                ("contact", controller["contact"]),
                ("representative (art. 27)", controller["representative"]),
                ("data protection officer (art. 37)", controller["dpo"]),
            ],
        ),
        "",
        "## Purposes and legal bases (art. 30(1)(b), art. 6(1), art. 9(2))",
        "",
        *_table(
            ("purpose", "legal basis", "special categories", "essential", "objectable", "categories", "description"),
            [
                (
                    f"`{item['name']}`",
                    f"{item['legal_basis']} ({item['legal_basis_article']})",
                    item["special_category_condition"] or "",
                    _yes(item["essential"]),
                    _yes(item["objectable"]),
                    ", ".join(item["categories"]),
                    item["description"],
                )
                for item in record["purposes"]
            ],
        ),
        "",
        "Essential: what stays open while a customer restricts processing (art. 18). Objectable: what a customer"
        " may object to (art. 21: legitimate interests, public task, direct marketing).",
        "",
        "## Data subjects (art. 30(1)(c))",
        "",
        *_table(
            ("data subjects", "categories of personal data", "description"),
            [(item["name"], ", ".join(item["categories"]), item["description"]) for item in record["data_subjects"]],
        ),
        "",
        "## Categories of personal data (art. 30(1)(c))",
        "",
        *_table(
            ("category", "sensitivity", "store", "purposes", "description"),
            [
                (
                    item["name"],
                    item["sensitivity"],
                    item["store"],
                    ", ".join(item["purposes"]),
                    item["description"],
                )
                for item in record["categories"]
            ],
        ),
        "",
        "## Recipients (art. 30(1)(d))",
        "",
        *_table(("recipient", "description"), [(item["name"], item["description"]) for item in record["recipients"]]),
        "",
        "### Sub-processors and their agreements (art. 28(3))",
        "",
        *_processors(record["processors"]),
        "",
        "## Transfers to third countries (art. 30(1)(e))",
        "",
        f"Region: {record['transfers']['region']}.",
        "",
        record["transfers"]["residency"],
        "",
        record["transfers"]["processors"],
        "",
        "## Time limits for erasure (art. 30(1)(f))",
        "",
        *_table(
            ("what", "days", "rule"),
            [(item["what"], _days(item["days"]), item["rule"]) for item in record["retention"]],
        ),
        "",
        "## Technical and organisational security measures (art. 30(1)(g), art. 32(1))",
        "",
        *_table(
            ("measure", "description", "where"),
            [(item["name"], item["description"], item["where"]) for item in record["security_measures"]],
        ),
    ]
    return "\n".join(lines) + "\n"


def _processors(processors: Sequence[Mapping[str, Any]] | None) -> list[str]:
    if processors is None:
        return [
            "Read from the sub-processor registry of a deployment: `custody ropa` (AWS) or `custody ropa --local`"
            " lists each agreement with its terms."
        ]
    if not processors:
        return ["No sub-processor is registered."]
    return _table(
        ("processor", "agreement", "status", "purposes", "categories", "deletion within", "commitments", "channel"),
        [
            (
                f"`{item['processor_id']}` {item['name']}",
                f"{item['agreement_version']} (signed {item['signed_on']})",
                item["status"],
                ", ".join(item["purposes"]),
                ", ".join(item["categories"]),
                f"{item['deletion_days']} days",
                _commitments(item),
                item["deletion_channel"],
            )
            for item in processors
        ],
    )


def _commitments(processor: Mapping[str, Any]) -> str:
    names = ("purpose_limitation", "confidentiality", "onward_transfer_requires_approval")
    return ", ".join(name.replace("_", " ") for name in names if processor[name])


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table, each cell escaped (`_cell`)."""
    lines = [_row(header), _row(["---"] * len(header))]
    lines += [_row(row) for row in rows]
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(str(cell)) for cell in cells) + " |"


def _cell(text: str) -> str:
    """A table cell: `|` escaped, line breaks as spaces, and outside code spans `<`, `>` and `&` as HTML
    entities (a placeholder like `<its name>` is text, not a tag)."""
    parts = text.replace("|", "\\|").replace("\n", " ").split("`")
    for index in range(0, len(parts), 2):  # the even parts lie outside code spans
        parts[index] = parts[index].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _days(days: int | None) -> str:
    return "" if days is None else str(days)


def _joined(values: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(values)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def document() -> str:
    """docs/ropa.md as the declarations make it: declared only, the controller's placeholders, no registry."""
    return render_markdown(build(None, None, ropa.CONTROLLER))
