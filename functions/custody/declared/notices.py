"""The notices a customer is sent, declared once: their SES templates and the values each may carry.

The CDK stack creates one `AWS::SES::Template` per entry of `TEMPLATES` and the local stack creates
the same templates through SES's `CreateTemplate` (`devstack.provision`), both named by
`naming.notice_template_name`. `custody.notices` sends them with SES `SendTemplatedEmail` (SES v1:
moto implements `SendTemplatedEmail` and `CreateTemplate`, not SES v2's templated `SendEmail`, and
both work in AWS).

A notice holds no personal data beyond the address it goes to: its template data is checked field by
field against the shape the template declares (`FieldShape`): a canonical UUID, a date, a SHA-256
digest, data-map category names, or a text from a declared vocabulary (`LABELS`, or one the caller
passes for the legal-hold engineer's declarations). A value of any other shape is refused before
anything is sent (`NoticeDataRefused`, naming the field, never the value).

SES sends nothing when the template data lacks a variable the template uses — it accepts the call,
then drops the message with a "Rendering Failure" event (AWS Knowledge Center, "Why is Amazon SES not
delivering emails sent with the SendTemplatedEmail operation?"). So every template's variables are
exactly its declared fields (`test_notices.py` reads them from the parts), and `template_data`
requires every field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from custody.declared import datamap
from custody.declared.ids import is_uuid
from custody.declared.jurisdictions import EXTENSION_REASONS, JURISDICTIONS, RequestKind

# An erasure's notice key (custody.notices.addresses): the KMS encryption context key it is made and
# unwrapped under, and the key store partition it lives in (`notice#<request id>`, never a subject id).
# IAM conditions the erasure steps' use of the data key and their puts of key material on both.
NOTICE_KEY_CONTEXT: Final = "notice_request_id"
NOTICE_KEY_PARTITION_PREFIX: Final = "notice#"


class NoticeKind(StrEnum):
    """What a notice tells the customer.

    A request's `receipt`, its `extension`, its `completion` (an erasure's: `erasure_completion`, with its
    certificate), and — sent by the legal-hold work — that a legal hold was placed (`legal_hold_placed`)
    or that data was kept under a statutory retention (`retention_kept`).
    """

    RECEIPT = "receipt"
    EXTENSION = "extension"
    COMPLETION = "completion"
    ERASURE_COMPLETION = "erasure_completion"
    LEGAL_HOLD_PLACED = "legal_hold_placed"
    RETENTION_KEPT = "retention_kept"


class FieldShape(StrEnum):
    """What a template field's value may be (`check_value`)."""

    ID = "id"  # a canonical lower-case UUID: a request's, a hold's
    DATE = "date"  # YYYY-MM-DD, a real day
    DIGEST = "digest"  # a SHA-256, 64 lower-case hex digits
    CATEGORIES = "categories"  # data-map category names, joined by ", "
    LABEL = "label"  # one of `LABELS[field]`
    DECLARED = "declared"  # one of the vocabulary the caller passes for the field (the legal-hold declarations)


# The customer-facing texts a LABEL field may hold, by field name: declared here, never typed by anyone.
KIND_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        RequestKind.ACCESS.value: "access to your data",
        RequestKind.RECTIFICATION.value: "correction of your data",
        RequestKind.ERASURE.value: "erasure of your data",
        RequestKind.RESTRICTION.value: "restriction of the processing of your data",
    }
)
OUTCOME_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ready": "your copy is ready: download it from your account within 7 days",
        "approved": "the correction was made",
        "rejected": "the correction was not made; your account shows the decision",
        "erased": "it was closed when your account was erased at your request",
        "restricted": "processing of your data is restricted until you lift the restriction",
    }
)
LABELS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "kind": frozenset(KIND_LABELS.values()),
        "outcome": frozenset(OUTCOME_LABELS.values()),
        "law": frozenset(item.name for item in JURISDICTIONS.values()),
        "reason": frozenset(item.description for item in EXTENSION_REASONS.values()),
    }
)


@dataclass(frozen=True)
class TemplateField:
    """A variable of a template (`{{name}}` in its parts) and the shape of its value."""

    name: str
    shape: FieldShape


@dataclass(frozen=True)
class Template:
    """One notice's SES template: subject, text and HTML parts, and the fields they use.

    `sent` says who sends it, when. The parts use `{{field}}` for exactly the declared fields.
    """

    kind: NoticeKind
    subject: str
    text: str
    html: str
    fields: tuple[TemplateField, ...]
    sent: str

    @property
    def field_names(self) -> tuple[str, ...]:
        """The names of the template's fields, in declaration order."""
        return tuple(item.name for item in self.fields)


def _f(name: str, shape: FieldShape) -> TemplateField:
    return TemplateField(name, shape)


ID, DATE, DIGEST, CATEGORIES, LABEL, DECLARED = (
    FieldShape.ID,
    FieldShape.DATE,
    FieldShape.DIGEST,
    FieldShape.CATEGORIES,
    FieldShape.LABEL,
    FieldShape.DECLARED,
)
_FOOTER_TEXT = "\n\nThis message was sent to the address of your account. It holds no other data about you."
_FOOTER_HTML = (
    "<p><small>This message was sent to the address of your account. It holds no other data about you.</small></p>"
)

TEMPLATES: Final[Mapping[NoticeKind, Template]] = MappingProxyType(
    {
        template.kind: template
        for template in (
            Template(
                NoticeKind.RECEIPT,
                "We received your request ({{request_id}})",
                "We received your request for {{kind}} on {{received_date}}.\n"
                "Its reference is {{request_id}}. Under the {{law}} we will answer by {{due_date}}." + _FOOTER_TEXT,
                "<p>We received your request for {{kind}} on {{received_date}}.</p>"
                "<p>Its reference is <code>{{request_id}}</code>. Under the {{law}} we will answer by "
                "<strong>{{due_date}}</strong>.</p>" + _FOOTER_HTML,
                (
                    _f("request_id", ID),
                    _f("kind", LABEL),
                    _f("received_date", DATE),
                    _f("due_date", DATE),
                    _f("law", LABEL),
                ),
                "by the function that recorded the request, right after it did (withdrawal, purpose withdrawal, "
                "export, change request)",
            ),
            Template(
                NoticeKind.EXTENSION,
                "We need more time for your request ({{request_id}})",
                "We need more time to answer your request for {{kind}} ({{request_id}}).\n"
                "{{reason}}\nUnder the {{law}} we extended the period once: we will answer by {{due_date}} "
                "instead of {{previous_due_date}}." + _FOOTER_TEXT,
                "<p>We need more time to answer your request for {{kind}} (<code>{{request_id}}</code>).</p>"
                "<p>{{reason}}</p><p>Under the {{law}} we extended the period once: we will answer by "
                "<strong>{{due_date}}</strong> instead of {{previous_due_date}}.</p>" + _FOOTER_HTML,
                (
                    _f("request_id", ID),
                    _f("kind", LABEL),
                    _f("reason", LABEL),
                    _f("law", LABEL),
                    _f("due_date", DATE),
                    _f("previous_due_date", DATE),
                ),
                "by the staff function when a privacy officer extends the request",
            ),
            Template(
                NoticeKind.COMPLETION,
                "Your request is answered ({{request_id}})",
                "Your request for {{kind}} ({{request_id}}) was answered on {{completed_date}}: {{outcome}}."
                + _FOOTER_TEXT,
                "<p>Your request for {{kind}} (<code>{{request_id}}</code>) was answered on {{completed_date}}: "
                "{{outcome}}.</p>" + _FOOTER_HTML,
                (
                    _f("request_id", ID),
                    _f("kind", LABEL),
                    _f("completed_date", DATE),
                    _f("outcome", LABEL),
                ),
                "by the exporter when an export is ready, by the staff function when a change request is decided",
            ),
            Template(
                NoticeKind.ERASURE_COMPLETION,
                "Your data is erased ({{request_id}})",
                "Your erasure request ({{request_id}}) was completed on {{completed_date}}.\n"
                "Its certificate's SHA-256 is {{certificate_digest}}. After {{unrecoverable_date}} no copy of "
                "your data can be recovered by anyone, from any backup. Your account and this address are deleted "
                "from our systems; this is the last message we send you." + _FOOTER_TEXT,
                "<p>Your erasure request (<code>{{request_id}}</code>) was completed on {{completed_date}}.</p>"
                "<p>Its certificate's SHA-256 is <code>{{certificate_digest}}</code>. After "
                "<strong>{{unrecoverable_date}}</strong> no copy of your data can be recovered by anyone, from any "
                "backup. Your account and this address are deleted from our systems; this is the last message we "
                "send you.</p>" + _FOOTER_HTML,
                (
                    _f("request_id", ID),
                    _f("completed_date", DATE),
                    _f("certificate_digest", DIGEST),
                    _f("unrecoverable_date", DATE),
                ),
                "by the erasure workflow's Certify step, after the identity was deleted, from the address sealed at "
                "Freeze (custody.notices.addresses)",
            ),
            Template(
                NoticeKind.LEGAL_HOLD_PLACED,
                "Some of your data is kept under a legal hold ({{hold_id}})",
                "Some of your data ({{categories}}) is kept under a legal hold ({{hold_id}}) until {{until_date}}: "
                "{{obligation}} ({{legal_basis}}). It is used for nothing else and erased when the hold ends."
                + _FOOTER_TEXT,
                "<p>Some of your data ({{categories}}) is kept under a legal hold (<code>{{hold_id}}</code>) until "
                "<strong>{{until_date}}</strong>: {{obligation}} ({{legal_basis}}). It is used for nothing else and "
                "erased when the hold ends.</p>" + _FOOTER_HTML,
                (
                    _f("hold_id", ID),
                    _f("categories", CATEGORIES),
                    _f("until_date", DATE),
                    _f("obligation", DECLARED),
                    _f("legal_basis", DECLARED),
                ),
                "by the legal-hold work when a hold is placed on a customer's data (wired by the lead)",
            ),
            Template(
                NoticeKind.RETENTION_KEPT,
                "Some of your data is kept by law ({{request_id}})",
                "Your request {{request_id}} was carried out, except for {{categories}}, which the law requires us "
                "to keep until {{until_date}}: {{obligation}} ({{legal_basis}}). It is used for nothing else and "
                "erased then." + _FOOTER_TEXT,
                "<p>Your request <code>{{request_id}}</code> was carried out, except for {{categories}}, which the law "
                "requires us to keep until <strong>{{until_date}}</strong>: {{obligation}} ({{legal_basis}}). It is "
                "used for nothing else and erased then.</p>" + _FOOTER_HTML,
                (
                    _f("request_id", ID),
                    _f("categories", CATEGORIES),
                    _f("until_date", DATE),
                    _f("obligation", DECLARED),
                    _f("legal_basis", DECLARED),
                ),
                "by the statutory-retention work when an erasure keeps data the law requires (wired by the lead)",
            ),
        )
    }
)

_VARIABLE: Final = re.compile(r"{{\s*([A-Za-z0-9_]+)\s*}}")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")


class NoticeDataRefused(ValueError):
    """A notice's data outside its template's declaration: nothing is sent. Names the field, never its value."""

    def __init__(self, kind: str, field: str) -> None:
        super().__init__(f"The {kind} notice refuses its {field}: missing, unknown or outside the field's shape.")
        self.field = field


def variables(text: str) -> set[str]:
    """The template variables (`{{name}}`) a part uses."""
    return set(_VARIABLE.findall(text))


def check_value(field: TemplateField, value: object, vocabulary: frozenset[str] = frozenset()) -> bool:
    """Whether `value` has the field's shape (`vocabulary`: the allowed texts of a DECLARED field)."""
    if not isinstance(value, str):
        return False
    if field.shape is FieldShape.ID:
        return is_uuid(value)
    if field.shape is FieldShape.DATE:
        if not _DATE.fullmatch(value):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if field.shape is FieldShape.DIGEST:
        return bool(_DIGEST.fullmatch(value))
    if field.shape is FieldShape.CATEGORIES:
        names = value.split(", ")
        return bool(value) and all(name in _CATEGORY_NAMES for name in names)
    if field.shape is FieldShape.LABEL:
        return value in LABELS.get(field.name, frozenset())
    return value in vocabulary


_CATEGORY_NAMES: Final = frozenset(category.name for category in datamap.CATEGORIES)


def template_data(
    kind: NoticeKind, values: Mapping[str, str], vocabulary: Mapping[str, frozenset[str]] | None = None
) -> str:
    """The `TemplateData` JSON of a notice: exactly the template's fields, each of its shape.

    `vocabulary` gives the allowed texts of DECLARED fields (the legal-hold declarations). Raises
    `NoticeDataRefused` naming the first field missing, unknown or of another shape.
    """
    template = TEMPLATES[kind]
    unknown = set(values) - set(template.field_names)
    if unknown:
        raise NoticeDataRefused(kind.value, sorted(unknown)[0])
    for field in template.fields:
        allowed = (vocabulary or {}).get(field.name, frozenset())
        if not check_value(field, values.get(field.name), allowed):
            raise NoticeDataRefused(kind.value, field.name)
    return json.dumps({name: values[name] for name in template.field_names}, sort_keys=True)


def date_of(moment: str) -> str:
    """The UTC day (`YYYY-MM-DD`) of a moment in the one format (`custody.declared.clock`)."""
    return moment[:10]
