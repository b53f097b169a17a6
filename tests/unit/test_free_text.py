"""Every text field a client sends refuses what no person types (issue 17, found by a fresh break:
NUL, ANSI escapes, a CR/LF header split, right-to-left overrides and invisible-only values were
stored in address lines, interests, staff summaries, reasons and agreement names).

Generated, not listed: every model a request body of docs/openapi.json names, and every model it
references (found among the models of `functions/*/schemas.py` and what they use), has each
string field, in lists and optionals too, tried with each hostile value. A new route, model or
field is covered without editing this test; a field checked otherwise is exempt, with its reason.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import types
import typing
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

import custody
from custody.platform import text

FUNCTIONS: Final = Path(__file__).resolve().parents[2] / "functions"
HOSTILE: Final = {
    "NUL": "Ann\x00Lee",
    "ANSI escape": "Ann\x1b[31mLee",
    "CR LF": "Ann\r\nX-Injected: 1",
    "right-to-left override": "Ann\u202eeeL",
    "isolate": "Ann\u2066Lee",
    "only a zero-width space": "\u200b",
    "only a Hangul filler": "\u3164",
    "a lone surrogate": "Ann\ud800",
    "a noncharacter": "Ann\ufdd0",
}
# Fields whose text is checked after decoding, by the domain (the refusal is tested there).
DECLARED = "a name the domain checks against the data map or the registry before anything is stored"
EXEMPT: Final = {
    ("DocumentUpload", "content_base64"): "base64 text, decoded and checked by documents.check_upload",
    ("DocumentUpload", "file_name"): "checked by documents.check_upload (its own, stricter rule: a header value)",
    ("DocumentUpload", "content_type"): "checked by documents.check_upload against the declared media types",
    ("ChangeRequestIn", "field"): DECLARED,
    ("ChangeRequestIn", "value"): "validated by the model of the field it changes (a Name for legal_name)",
    ("GrantIn", "purpose"): DECLARED,
    ("GrantIn", "categories"): DECLARED,
    ("DisclosureIn", "categories"): DECLARED,
    ("AgreementIn", "purposes"): DECLARED,
    ("AgreementIn", "categories"): DECLARED,
    ("InteractionIn", "grant_id"): "looked up as a key; an unknown id is a 403 and nothing is stored",
    ("InvoiceIn", "grant_id"): "looked up as a key; an unknown id is a 403 and nothing is stored",
    ("LegalHoldIn", "reason_code"): "a declared reason code, checked by holds.check_hold before anything is stored",
    ("ErasureAckIn", "task_token"): "opaque, verified against its KMS HMAC seal before it is used",
}
DOCUMENT: Final = json.loads((FUNCTIONS.parent / "docs" / "openapi.json").read_text())


def _models_in(module: types.ModuleType) -> Iterator[type[BaseModel]]:
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
            yield value


def _referenced(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for inner in _types_in(field.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                _referenced(inner, seen)


def _types_in(annotation: Any) -> Iterator[Any]:
    yield annotation
    for argument in typing.get_args(annotation):
        yield from _types_in(argument)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def request_body_schemas() -> set[str]:
    """The component names request bodies of the OpenAPI document use, directly or inside another."""
    pending = [
        name
        for methods in DOCUMENT["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict)
        for name in _refs(operation.get("requestBody", {}))
    ]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(_refs(DOCUMENT["components"]["schemas"][name]))
    return {name for name in found if DOCUMENT["components"]["schemas"][name].get("type") == "object"}


def input_models() -> list[type[BaseModel]]:
    """Every model a request body uses, by name (asserted: each one is found in the code).

    Models are looked up in `functions/*/schemas.py` and every module of the custody library.
    """
    found: set[type[BaseModel]] = set()
    names = [f"{schemas.parent.name}.schemas" for schemas in sorted(FUNCTIONS.glob("*/schemas.py"))]
    names += [module.name for module in pkgutil.walk_packages(custody.__path__, "custody.")]
    for name in names:
        for model in _models_in(importlib.import_module(name)):
            _referenced(model, found)
    by_name = {model.__name__: model for model in found}
    wanted = request_body_schemas()
    assert wanted <= set(by_name), f"request body models not found in functions/*/schemas.py: {wanted - set(by_name)}"
    return sorted((by_name[name] for name in wanted), key=lambda model: model.__name__)


def text_fields() -> list[tuple[str, str, TypeAdapter[Any], bool]]:
    """(model, field, its validator, whether it takes a list) for every string-typed input field."""
    found = []
    for model in input_models():
        for name, field in model.model_fields.items():
            if (model.__name__, name) in EXEMPT:
                continue
            annotation = typing.Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
            adapter: TypeAdapter[Any] = TypeAdapter(annotation)
            schema = adapter.json_schema()
            options = schema.get("anyOf", [schema])
            if any(option.get("type") == "string" and "enum" not in option for option in options):
                found.append((model.__name__, name, adapter, False))
            elif any(option.get("items", {}).get("type") == "string" for option in options):
                found.append((model.__name__, name, adapter, True))
    return found


FIELDS: Final = text_fields()


def test_every_exemption_names_a_field_of_a_request_body() -> None:
    """An exemption outlives nothing: a renamed model or field must be exempted again, on purpose."""
    fields = {(model.__name__, name) for model in input_models() for name in model.model_fields}
    assert set(EXEMPT) <= fields, set(EXEMPT) - fields


def test_the_input_models_are_found() -> None:
    names = {model for model, *_ in FIELDS}
    assert {"Address", "Allergy", "AgreementIn", "InteractionIn", "DecisionIn", "Preferences"} <= names, names
    assert len(FIELDS) >= 15


@pytest.mark.parametrize(("model", "field", "adapter", "is_list"), FIELDS, ids=[f"{m}.{f}" for m, f, *_ in FIELDS])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_text_field_refuses_what_no_person_types(
    model: str, field: str, adapter: TypeAdapter[Any], is_list: bool, kind: str
) -> None:
    value = HOSTILE[kind]
    with pytest.raises(ValidationError) as refused:
        adapter.validate_python([value] if is_list else value)
    assert value not in str(refused.value.errors(include_input=False)), "the refusal echoes the value"


PRINTABLE: Final = st.characters(categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters=text.FILLERS)


@given(
    first=st.characters(categories=["L", "N"], exclude_characters=text.FILLERS), rest=st.text(PRINTABLE, max_size=30)
)
def test_text_any_person_types_is_kept_in_nfc(first: str, rest: str) -> None:
    value = first + rest
    if any(0xFDD0 <= ord(char) <= 0xFDEF or (ord(char) & 0xFFFE) == 0xFFFE for char in value):
        return  # noncharacters (category Cn): refused, tested above
    assert TypeAdapter(text.Text).validate_python(value) == unicodedata.normalize("NFC", value)


def test_lines_keep_line_feeds_and_tabs_and_text_does_not() -> None:
    assert TypeAdapter(text.Lines).validate_python("first\n\tsecond") == "first\n\tsecond"
    with pytest.raises(ValidationError):
        TypeAdapter(text.Text).validate_python("first\nsecond")


def test_scripts_that_need_joiners_keep_them() -> None:
    for value in ("क्‍ष", "می‌خواهم", "👩‍💻"):  # Devanagari half form, Persian ZWNJ, an emoji ZWJ sequence
        assert TypeAdapter(text.Text).validate_python(value) == value
