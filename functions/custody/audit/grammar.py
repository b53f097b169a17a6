"""What the audit ledger accepts: the grammar of every field it writes into an object key or an event.

The ledger is under Object Lock COMPLIANCE: whatever it takes stays for the retention (a year)
and can be erased by nobody. So it takes no text a caller typed. Every field is one of:

* a canonical, lower-case UUID (request and subject ids, grant and change-request ids, staff subs);
* a name the code declares: a step, an outcome, an error code, a count name, a data-map store,
  category or purpose, a catalog route template (`POST /v1/me/consents`), a function name;
* a sub-processor's registry id — only the one whose agreement the caller loaded and passes
  (`processor=`): that is the caller's proof the id exists, so no id a caller typed gets in.

* `chain_id`: `<uuid>` (a request), `subject/<uuid>`, `processors/<id>`, `refusals/<function>`,
  `retention/sweeps`; the two shared kinds also as one of their shards, `processors/<id>/<nn>` and
  `refusals/<function>/<nn>`, `<nn>` a shard name (`SHARD_NAMES`: two digits below `CHAIN_SHARDS`);
* `request_id`, `subject_id`: `<uuid>` or none;
* `step`: `STEPS`;
* `target`: `TARGET_WORDS`, a store, a purpose, `consent:<purpose>`, `objection:<purpose>`,
  `extension:<declared reason>`,
  `restriction:<ground>` (a declared art. 18(1) ground code), a route template,
  `grant/<uuid>[:<purpose or legal_obligation>]`, `change_request/<uuid>`, `change_requests:<n>`,
  `interaction/<time>#<uuid>`, `invoice/<time>#<uuid>`, `processor/<id>[:<version>]`,
  `legal_hold/<declared reason code>:<YYYY-MM-DD>` (a hold and its last day),
  `obligation/<declared obligation>:<YYYY-MM-DD>` (records kept under it, and their last day); a
  refusal adds `:<error code>`;
* `outcome`: `OUTCOMES`, an error code, `error:<ExceptionClass>`;
* `actor`: `ACTOR_WORDS`, `customer:<channel>`, `staff/<uuid>`, `<audience>:<uuid>`, `processor/<id>`;
* `counts`: names in `COUNT_NAMES` (stores and categories among them), integer values;
* `attests`: a SHA-256 hex digest or none.

`check_event` raises `OutsideLedgerGrammar` naming the field (never its value); `admits` says
whether a text on its own is something the ledger could hold (the robustness scan uses it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Final, Protocol

from custody.declared import catalog, datamap, holds, jurisdictions, restriction, workflow
from custody.declared.errors import CustodyError
from custody.declared.ids import is_uuid

SHA256_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
PROCESSOR_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{1,62}$"
AGREEMENT_VERSION_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
_PROCESSOR_ID: Final = re.compile(PROCESSOR_ID_PATTERN)
_VERSION: Final = re.compile(AGREEMENT_VERSION_PATTERN)
_EXCEPTION_CLASS: Final = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
_INTERACTION_KEY: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_COUNT: Final = re.compile(r"\d{1,9}")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

# The erasure workflow's steps, as `custody.declared.workflow` names them, and every other event's step.
STEPS: Final = frozenset(workflow.STEPS) | {
    "consent_granted",
    "consent_withdrawn",
    "withdrawal_requested",
    "erasure_requested",
    "retention_erasure_requested",
    "retention_sweep",
    "erasure_ended",  # an erasure execution ended other than SUCCEEDED, or never started (custody.erasure.outcomes)
    "access_refused",
    "staff_access_grant",
    "staff_access_approval",
    "staff_read",
    "interaction_recorded",
    "change_request_review",
    "change_request_decision",
    "processor_agreement",
    "disclosure",
    "processor_erasure_ack",
    "export_requested",
    "export_written",
    "restriction_applied",  # the customer restricted processing (GDPR art. 18): the ground's code, never text
    "restriction_lifted",
    "purpose_objected",  # the customer objected to a purpose (GDPR art. 21): distinct from a consent withdrawal
    "invoice_recorded",
    "legal_hold_placed",  # a privacy officer placed (or placed again) a legal hold on a customer
    "legal_hold_lifted",  # a privacy officer lifted it
    "legal_hold_ended",  # the sweep found its last day over, and released what it held
    "erasure_held",  # an erasure request was recorded while a legal hold lay on its subject: not started
    "erasure_released",  # a held erasure request was released (the hold lifted or ended) and started
    "records_retained",  # a full erasure kept records under a legal obligation (Certify, before the certificate)
    "retention_end_requested",  # the sweep asked for the erasure of records whose obligations ended
    "request_extended",  # a privacy officer extended a data-subject request's period (custody.deadlines)
}
# Error codes are the `code` of every domain error (custody.declared.errors), collected once.


def _error_codes(kind: type[CustodyError]) -> set[str]:
    return {kind.code}.union(*(_error_codes(sub) for sub in kind.__subclasses__()))


ERROR_CODES: Final = frozenset(_error_codes(CustodyError))
OUTCOMES: Final = frozenset(
    {
        "ok",
        "failed",
        "refused",
        "active",
        "suspended",
        "pending_approval",
        "approved",
        "rejected",
        "read",
        "recorded",
        "disclosed",
        "acknowledged",
        "erasure_requested",
        "timed_out",
        "aborted",
        "not_started",
        "placed",
        "lifted",
        "ended",
        "held",
        "released",
        "retained",
        "extended",
    }
)
# Targets that are a word: what an event is about when it names no store, purpose or id. A kind
# (`grant`, `processor`, …) stands alone where a refusal's id was not one the ledger may hold.
TARGET_WORDS: Final = frozenset(
    {
        "workflow",
        "subjects",
        "grant",
        "change_request",
        "interaction",
        "invoice",
        "processor",
        "sharing",
        "route",
        "legal_hold",
        "restriction",
    }
)
CHANNELS: Final = frozenset({"web", "mobile", "api"})
AUDIENCES: Final = frozenset(audience.value for audience in catalog.Audience)
ACTOR_WORDS: Final = AUDIENCES | {"erasure-workflow", "retention-sweep", "exporter", "erasure-outcomes"}
COUNT_NAMES: Final = frozenset(
    {
        "deleted",
        "erased",
        "more",
        "shredded",
        "notified",
        "asked",
        "confirmed",
        "unconfirmed",
        "residual",
        "categories",
        "buckets_queried",
        "candidates",
        "started",
        "skipped",
        "deferred",
        "due_not_started",
        "files",
        "bytes",
        "held",
        "released",
        "holds_released",
        "retention_ended",
        "index_queries",
        "notices_sent",
    }
    | {store.name for store in datamap.STORES}
    | {category.name for category in datamap.CATEGORIES}
)
FIXED_CHAINS: Final = frozenset({"retention/sweeps"})
REFUSAL_CHAINS: Final = frozenset(f"refusals/{function.name}" for function in catalog.FUNCTIONS)
# The chains many writers share (every API function's anonymous refusals; a processor's agreements and
# refusals) are written as shards: a writer appends to one of `CHAIN_SHARDS` chains `<family>/<nn>`, so
# concurrent writers rarely contend for one head. Raise it only: the auditor reads every name below it.
CHAIN_SHARDS: Final = 16
SHARD_NAMES: Final = tuple(f"{index:02d}" for index in range(CHAIN_SHARDS))
SHARDED_KINDS: Final = ("refusals", "processors")
ROUTE_TEMPLATES: Final = frozenset(f"{route.method} {route.path}" for route in catalog.ROUTES)
STORE_NAMES: Final = frozenset(store.name for store in datamap.STORES)
DOCUMENT_KINDS: Final = frozenset({"certificate"})


class RegisteredProcessor(Protocol):
    """A sub-processor's agreement as loaded from the registry (`custody.subprocessors.registry.Agreement`)."""

    @property
    def processor_id(self) -> str:
        """The sub-processor's registry id (`PROCESSOR_ID_PATTERN`)."""

    @property
    def version(self) -> str:
        """The version of the agreement (`AGREEMENT_VERSION_PATTERN`)."""


class OutsideLedgerGrammar(ValueError):
    """A field outside the ledger's grammar: the event is not written. Names the field, never its value."""

    def __init__(self, field: str) -> None:
        super().__init__(f"The audit ledger refuses this event: its {field} is outside the ledger's grammar.")
        self.field = field


def _is_processor(value: str, processor: RegisteredProcessor | None) -> bool:
    return processor is not None and value == processor.processor_id and bool(_PROCESSOR_ID.fullmatch(value))


def is_purpose(value: str, processor: RegisteredProcessor | None) -> bool:
    """Whether `value` is a declared purpose, or `sharing:<id>` for the registry id of `processor`."""
    if value in datamap.PURPOSES:
        return True
    return value.startswith(datamap.SHARING_PREFIX) and _is_processor(
        value.removeprefix(datamap.SHARING_PREFIX), processor
    )


def is_shared_chain(value: str, processor: RegisteredProcessor | None) -> bool:
    """Whether `value` names a sharded family: `refusals/<function>`, or `processors/<id>` for `processor`'s id."""
    kind, _, rest = value.partition("/")
    return value in REFUSAL_CHAINS or (kind == "processors" and _is_processor(rest, processor))


def shard_of(value: str) -> tuple[str, str] | None:
    """`(family, shard name)` when `value` has the shape of a shard (`<kind>/<name>/<nn>`), else None.

    Shape only: whether the family is one (a function, a registered processor) is `is_chain`'s to say.
    """
    family, slash, shard = value.rpartition("/")
    if slash and shard in SHARD_NAMES and family.partition("/")[0] in SHARDED_KINDS:
        return family, shard
    return None


def shard_chains(family: str) -> tuple[str, ...]:
    """Every shard of a family, in order: `<family>/00` … `<family>/<CHAIN_SHARDS - 1>`."""
    return tuple(f"{family}/{name}" for name in SHARD_NAMES)


def is_chain(value: str, processor: RegisteredProcessor | None) -> bool:
    """Whether `value` is a chain id.

    A request's UUID, `subject/<uuid>`, `processors/<id>` for the registry id of `processor`, a
    function's `refusals/<function>`, `retention/sweeps`, or a shard (`<family>/<nn>`) of one of
    the two shared families.
    """
    if is_uuid(value) or value in FIXED_CHAINS or is_shared_chain(value, processor):
        return True
    sharded = shard_of(value)
    if sharded is not None:
        return is_shared_chain(sharded[0], processor)
    kind, _, rest = value.partition("/")
    return kind == "subject" and is_uuid(rest)


def _is_processor_target(rest: str, processor: RegisteredProcessor | None) -> bool:
    processor_id, colon, version = rest.partition(":")
    if not _is_processor(processor_id, processor):
        return False
    return not colon or (processor is not None and version == processor.version and bool(_VERSION.fullmatch(version)))


def _is_base_target(value: str, processor: RegisteredProcessor | None) -> bool:
    if value in TARGET_WORDS or value in STORE_NAMES or value in ROUTE_TEMPLATES or is_purpose(value, processor):
        return True
    if value.startswith("consent:"):
        rest = value.removeprefix("consent:")
        return is_purpose(rest, processor) or rest == "sharing"
    if value.startswith("objection:"):
        return value.removeprefix("objection:") in datamap.PURPOSES
    if value.startswith("restriction:"):
        return value.removeprefix("restriction:") in restriction.GROUNDS
    if value.startswith("extension:"):
        return value.removeprefix("extension:") in jurisdictions.EXTENSION_REASONS
    kind, slash, rest = value.partition("/")
    if slash:
        if kind == "grant":
            grant_id, colon, purpose = rest.partition(":")
            return is_uuid(grant_id) and (not colon or purpose in (*datamap.PURPOSES, datamap.LEGAL_OBLIGATION))
        if kind == "change_request":
            return is_uuid(rest)
        if kind in ("interaction", "invoice"):
            return bool(_INTERACTION_KEY.fullmatch(rest))
        if kind in ("legal_hold", "obligation"):
            name, colon, day = rest.partition(":")
            declared = holds.REASONS if kind == "legal_hold" else datamap.OBLIGATIONS
            return name in declared and bool(colon) and is_date(day)
        if kind == "processor":
            return _is_processor_target(rest, processor)
        return False
    kind, colon, rest = value.partition(":")
    return kind == "change_requests" and bool(colon) and bool(_COUNT.fullmatch(rest))


def is_date(value: str) -> bool:
    """Whether `value` is a calendar date written `YYYY-MM-DD` (a hold's or an obligation's last day)."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_target(value: str, processor: RegisteredProcessor | None) -> bool:
    """A target, or a refusal's target: `<target>:<error code>`."""
    if _is_base_target(value, processor):
        return True
    base, colon, code = value.rpartition(":")
    return bool(colon) and code in ERROR_CODES and _is_base_target(base, processor)


def is_outcome(value: str) -> bool:
    """Whether `value` is an outcome: a declared one, a domain error code, or `error:<ExceptionClass>`."""
    if value in OUTCOMES or value in ERROR_CODES:
        return True
    return value.startswith("error:") and bool(_EXCEPTION_CLASS.fullmatch(value.removeprefix("error:")))


def is_actor(value: str, processor: RegisteredProcessor | None) -> bool:
    """Whether `value` is an actor the ledger may name.

    A word (`ACTOR_WORDS`), `customer:<channel>`, `staff/<uuid>`, `<audience>:<uuid>`, or
    `processor/<id>` for the registry id of `processor`.
    """
    if value in ACTOR_WORDS:
        return True
    kind, slash, rest = value.partition("/")
    if slash:
        return (kind == "staff" and is_uuid(rest)) or (kind == "processor" and _is_processor(rest, processor))
    kind, colon, rest = value.partition(":")
    return bool(colon) and ((kind == "customer" and rest in CHANNELS) or (kind in AUDIENCES and is_uuid(rest)))


def is_step(value: str) -> bool:
    """Whether `value` is a step the ledger records (`STEPS`)."""
    return value in STEPS


def check_event(
    *,
    chain_id: str,
    step: str,
    target: str,
    outcome: str,
    actor: str,
    request_id: str | None,
    subject_id: str | None,
    counts: Mapping[str, object],
    attests: str | None,
    processor: RegisteredProcessor | None = None,
) -> None:
    """Raise `OutsideLedgerGrammar` for the first field outside the grammar (its name, never its value)."""
    checks: Iterable[tuple[str, bool]] = (
        ("chain_id", isinstance(chain_id, str) and is_chain(chain_id, processor)),
        ("request_id", request_id is None or is_uuid(request_id)),
        ("subject_id", subject_id is None or is_uuid(subject_id)),
        ("step", isinstance(step, str) and is_step(step)),
        ("target", isinstance(target, str) and is_target(target, processor)),
        ("outcome", isinstance(outcome, str) and is_outcome(outcome)),
        ("actor", isinstance(actor, str) and is_actor(actor, processor)),
        ("counts", all(isinstance(name, str) and name in COUNT_NAMES for name in counts)),
        ("attests", attests is None or bool(SHA256_PATTERN.fullmatch(attests))),
    )
    for field, valid in checks:
        if not valid:
            raise OutsideLedgerGrammar(field)


def check_document(chain_id: str, kind: str) -> None:
    """Raise `OutsideLedgerGrammar` unless `chain_id` is a chain and `kind` a document kind (`certificate`).

    Only chains that need no registry entry are admitted here: a document is filed beside a request's or
    subject's chain.
    """
    if not is_chain(chain_id, None):
        raise OutsideLedgerGrammar("chain_id")
    if kind not in DOCUMENT_KINDS:
        raise OutsideLedgerGrammar("document kind")


def admits(text: str, registered: Iterable[RegisteredProcessor] = ()) -> bool:
    """Whether this text, on its own, could be a field of an event (with these registry entries existing)."""
    for processor in (None, *registered):
        if (
            is_chain(text, processor)
            or is_target(text, processor)
            or is_actor(text, processor)
            or _is_processor(text, processor)
            or (processor is not None and text == processor.version)
        ):
            return True
    return is_step(text) or is_outcome(text) or text in COUNT_NAMES or text in CHANNELS
