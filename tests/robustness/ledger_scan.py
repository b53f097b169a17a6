"""Caller text in the ledger: what the hostile suites submitted, looked for in every ledger object.

While `test_fuzz` and `test_bad_input` run, every request that reaches the local gateway is
recorded: the path and each of its segments, query names and values, header values, and the
body (every string key and value of a JSON body, else its text). Afterwards `scan` reads every
version of every object under `ledger/` in the audit bucket and counts the submitted strings
that are not themselves in the ledger's grammar (`custody.audit.grammar.admits`, with the
registry's agreements as they stand) yet appear there: as a whole field, as one part of a field
split on `/ : #` and spaces (a number alone excepted: the grammar's targets carry counts, as in
`change_requests:2`), or — from 12 characters on — anywhere in the text. Each event must also
pass the grammar itself.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final
from urllib.parse import parse_qsl

from custody.audit import grammar
from custody.audit.grammar import admits, check_event
from custody.declared import datamap, holds, jurisdictions, naming, restriction
from custody.stores.subjects import SubjectStatus
from tests.integration.conftest import LocalStack

GENERATED: Final = frozenset({"event_id", "seq", "at", "prev_hash", "hash", "attests"})  # ours, never a caller's
SUBSTRING_FROM: Final = 12
_PARTS: Final = re.compile(r"[/:#\s]+")
# The parts of the grammar's own words (`v1`, `me`, `subject`, …): a submitted string equal to one
# of them matches a part of any route template, and says nothing about caller text.
_SHAPES: Final = (
    "subject",
    "processors",
    "refusals",
    "grant",
    "processor",
    "staff",
    "customer",
    "error",
    "consent",
    "objection",
    "restriction",
)
VOCABULARY_PARTS: Final = frozenset(
    part
    for word in (
        *grammar.ROUTE_TEMPLATES,
        # a route's path alone (`/v1/staff/processors`) is a request for it, and part of its template
        *(template.split(" ", 1)[1] for template in grammar.ROUTE_TEMPLATES),
        *grammar.REFUSAL_CHAINS,
        *grammar.FIXED_CHAINS,
        *grammar.STEPS,
        *grammar.OUTCOMES,
        *grammar.ERROR_CODES,
        *grammar.TARGET_WORDS,
        *grammar.ACTOR_WORDS,
        *grammar.COUNT_NAMES,
        *datamap.PURPOSES,
        *restriction.GROUNDS,  # a declared code the customer chooses (`restriction:<ground>`), never free text
        # what a certificate says of kept records, in declared words: obligations, their legal bases and key
        # versions, the subject's statuses, hold reasons and their provisions, jurisdictions
        *datamap.OBLIGATIONS,
        *(obligation.legal_basis for obligation in datamap.OBLIGATIONS.values()),
        *(obligation.key_version for obligation in datamap.OBLIGATIONS.values()),
        *(status.value for status in SubjectStatus),
        *holds.REASONS,
        *(reason.legal_source for reason in holds.REASONS.values()),
        *jurisdictions.JURISDICTIONS,
        *jurisdictions.EXTENSION_REASONS,  # a request's extension (`extension:<code>`), a declared code
        *_SHAPES,
    )
    for part in (word, *re.split(r"[/:#\s{}]+", word), *word.split(" "))
    if part
)
_PROCESSOR_IN: Final = re.compile(r"(?:processors?/|sharing:)([a-z0-9][a-z0-9-]{1,62})")


@dataclass(frozen=True)
class Agreement:
    processor_id: str
    version: str


@dataclass
class Submissions:
    strings: set[str] = field(default_factory=set)
    requests: int = 0

    def record(self, environ: dict[str, Any]) -> None:
        self.requests += 1
        path = str(environ.get("PATH_INFO", ""))
        self.strings.add(path)
        self.strings.update(part for part in path.split("/") if part)
        for name, value in parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True):
            self.strings.update((name, value))
        self.strings.update(str(value) for key, value in environ.items() if key.startswith("HTTP_"))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            self.strings.update(_strings_of(body))


def _strings_of(body: bytes) -> Iterator[str]:
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        yield text
        return
    stack: list[Any] = [parsed]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                yield str(key)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            yield value


SUBMITTED: Final = Submissions()


def recording(app_call: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a WSGI `__call__` so every request it serves is recorded first."""

    def call(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        SUBMITTED.record(environ)
        return app_call(self, environ, start_response)  # type: ignore[no-any-return]

    return call


@dataclass
class ScanResult:
    objects: int = 0
    caller_strings: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)  # (object key, why) — never the value itself
    outside_grammar: list[str] = field(default_factory=list)


def registered(stack: LocalStack) -> list[Agreement]:
    items = stack.clients("dynamodb").scan(TableName=stack.resources.tables["processors"])["Items"]
    return [Agreement(item["processor_id"]["S"], item["version"]["S"]) for item in items]


def ledger_objects(stack: LocalStack) -> Iterator[tuple[str, bytes]]:
    s3 = stack.clients("s3")
    bucket = stack.resources.buckets[naming.AUDIT_BUCKET]
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="ledger/"):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            yield version["Key"], body


def _fields(key: str, document: Any) -> list[str]:
    """What a caller could have put there: the key, every value but the ones we generate, and count names."""
    found = [key, *map(str, (document.get("counts") or {}) if isinstance(document, dict) else ())]
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(item for name, item in value.items() if name not in GENERATED)
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            found.append(value)
    return found


def _in_grammar(event: dict[str, Any], agreements: dict[str, Agreement]) -> bool:
    named = {
        match for text in (event["chain_id"], event["target"], event["actor"]) for match in _PROCESSOR_IN.findall(text)
    }
    processor = agreements.get(next(iter(named))) if len(named) == 1 else None
    try:
        check_event(
            chain_id=event["chain_id"],
            step=event["step"],
            target=event["target"],
            outcome=event["outcome"],
            actor=event["actor"],
            request_id=event["request_id"],
            subject_id=event["subject_id"],
            counts=event["counts"],
            attests=event.get("attests"),
            processor=processor,
        )
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def scan(stack: LocalStack, submitted: Iterable[str]) -> ScanResult:
    agreements = {agreement.processor_id: agreement for agreement in registered(stack)}
    caller = {text for text in submitted if text and not admits(text, agreements.values())}
    # A number alone is no caller text: the grammar writes counts into targets (`change_requests:2`); nor is a
    # calendar date, validated as one: a legal hold's last day (`legal_hold/<code>:<until>`).
    telling = {text for text in caller - VOCABULARY_PARTS if not text.isdecimal() and not _is_date(text)}
    long_ones = [text for text in telling if len(text) >= SUBSTRING_FROM]
    result = ScanResult(caller_strings=len(caller))
    for key, body in ledger_objects(stack):
        result.objects += 1
        document = json.loads(body)
        values = _fields(key, document)
        parts = {part for value in values for part in (value, *_PARTS.split(value)) if part}
        if found := sorted(parts & telling):
            result.hits.append((key, f"a field or a part of one is a submitted string: {found[:5]!r}"))
        text = "\n".join(values)
        if any(value in text for value in long_ones):
            result.hits.append((key, "a submitted string of 12 characters or more is in its text"))
        if "/documents/" not in key and not _in_grammar(document, agreements):
            result.outside_grammar.append(key)
    return result
