"""Notices hold no personal data: every template's variables are its declared fields, each of a checked shape."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.declared import naming
from custody.declared.notices import (
    LABELS,
    TEMPLATES,
    FieldShape,
    NoticeDataRefused,
    NoticeKind,
    TemplateField,
    check_value,
    template_data,
    variables,
)
from custody.notices.mailer import deliverable
from infra.config import longest_names

VALID = {
    FieldShape.ID: str(uuid.uuid4()),
    FieldShape.DATE: "2028-02-29",
    FieldShape.DIGEST: "ab" * 32,
    FieldShape.CATEGORIES: "identity, contact",
}


def example(kind: NoticeKind) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Valid data for a template, and the vocabulary its DECLARED fields take."""
    values, vocabulary = {}, {}
    for field in TEMPLATES[kind].fields:
        if field.shape is FieldShape.LABEL:
            values[field.name] = sorted(LABELS[field.name])[0]
        elif field.shape is FieldShape.DECLARED:
            values[field.name] = "Commercial records"
            vocabulary[field.name] = frozenset({"Commercial records"})
        else:
            values[field.name] = VALID[field.shape]
    return values, vocabulary


def test_every_notice_kind_has_a_template() -> None:
    assert set(TEMPLATES) == set(NoticeKind)


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_a_templates_variables_are_exactly_its_fields(kind: NoticeKind) -> None:
    """SES drops a message whose data lacks a variable (a Rendering Failure): none may be undeclared."""
    template = TEMPLATES[kind]
    used = variables(template.subject) | variables(template.text) | variables(template.html)
    assert used == set(template.field_names)
    assert variables(template.text) == variables(template.html)  # the same message whichever part is read
    assert len(template.field_names) == len(set(template.field_names))


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_valid_data_is_exactly_the_fields_as_json(kind: NoticeKind) -> None:
    values, vocabulary = example(kind)
    assert json.loads(template_data(kind, values, vocabulary)) == values


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_a_missing_or_unknown_field_is_refused_naming_it(kind: NoticeKind) -> None:
    values, vocabulary = example(kind)
    first = TEMPLATES[kind].field_names[0]
    with pytest.raises(NoticeDataRefused, match=first):
        template_data(kind, {name: value for name, value in values.items() if name != first}, vocabulary)
    with pytest.raises(NoticeDataRefused, match="email"):
        template_data(kind, {**values, "email": "ada@example.com"}, vocabulary)


PERSONAL = st.one_of(
    st.emails(),
    st.text(min_size=1, max_size=40),
    st.from_regex(r"\+[0-9]{8,14}", fullmatch=True),
    st.sampled_from(["Ada Lovelace", "1815-12-10T00:00:00Z", "Quilliam Zephyrine", "5555555555554444"]),
)


@given(value=PERSONAL, kind=st.sampled_from(list(NoticeKind)))
def test_no_field_takes_a_value_of_another_shape(value: str, kind: NoticeKind) -> None:
    """Whatever a person could have typed passes only where it has exactly a declared shape."""
    for field in TEMPLATES[kind].fields:
        if check_value(field, value, frozenset()):
            assert field.shape is not FieldShape.DECLARED
            assert (
                (field.shape is FieldShape.ID and len(value) == 36)
                or (field.shape is FieldShape.DATE and len(value) == 10)
                or (field.shape is FieldShape.DIGEST and len(value) == 64)
                or field.shape in (FieldShape.CATEGORIES, FieldShape.LABEL)
            ), (field, value)
            assert "@" not in value


def test_shapes_at_their_edges() -> None:
    date = TemplateField("due_date", FieldShape.DATE)
    assert check_value(date, "2028-02-29")
    assert not check_value(date, "2027-02-29")  # no such day
    assert not check_value(date, "2028-02-29T00:00:00Z")
    assert not check_value(date, "\u0662\u0660\u0662\u0668-02-29")  # Arabic-Indic digits: ASCII only
    categories = TemplateField("categories", FieldShape.CATEGORIES)
    assert check_value(categories, "identity")
    assert not check_value(categories, "identity,contact")
    assert not check_value(categories, "")
    assert not check_value(TemplateField("kind", FieldShape.LABEL), "free text")
    assert not check_value(TemplateField("id", FieldShape.ID), str(uuid.uuid4()).upper())
    assert not check_value(TemplateField("x", FieldShape.ID), 7)


def test_addresses_are_sent_as_ses_takes_them() -> None:
    assert deliverable("ada@example.com") == "ada@example.com"
    assert deliverable("ada@bücher.example") == "ada@xn--bcher-kva.example"
    assert deliverable("adá@example.com") is None  # SES takes no non-ASCII local part
    assert deliverable("") is None
    assert deliverable(None) is None
    assert deliverable("not an address") is None


def test_template_names_fit_ses_for_the_longest_prefix() -> None:
    for kind in NoticeKind:
        name = naming.notice_template_name("crm-custody", kind.value)
        assert name.replace("-", "").replace("_", "").isalnum()
        assert len(name) <= 64
    kinds = {kind for kind, _, _ in longest_names("crm-custody")}
    assert "SES template" in kinds  # the prefix is checked against SES's limit too (check_prefix)
