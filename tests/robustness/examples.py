"""A valid request for every route of the catalog, generated from the OpenAPI document (issue 16).

The document is built from the functions' own resolvers (`devstack.openapi.build`), so a new route
is here as soon as it is served. For each operation:

* path and query parameters, and body properties, named like something the `World` holds (the
  customer's id, a grant, a document, a change request, a pending erasure's task token...) take
  that value;
* other body properties take the schema's `const`, first example, first enum value, or, when
  required and nothing better is known, a plain value of their type;
* a declared `Idempotency-Key` header is sent, a new key each time;
* the caller is the route's audience: the world's customer, a staff member of the route's first
  group (`support` where allowed: the grants are theirs), the sub-processor the request names
  (each acts for itself only), or nobody.

`OVERRIDES` holds what the schema alone cannot say (a profile that passes the validators, a
document's content, a grant's purpose and categories...), and what must hold just before a request is
sent rather than when it is prepared (`Request.ready`: the customer restricted, for lifting it). A route
for which neither gives a request the stack accepts is a failure of the late-write suite, never a skip:
it must be held too.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any, Final

from werkzeug.test import Client

from custody.declared import catalog, clock, datamap, naming
from custody.declared.catalog import Audience
from custody.declared.restriction import GROUNDS
from devstack import openapi
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, Customer, Reply
from tests.integration.staff.conftest import Caller, agreement

POLICY_VERSION: Final = "2026-11"
# Purposes every world's customer grants: the data map's, and sharing with each of the cast's processors.
PURPOSES: Final = datamap.PURPOSES
ACK_TIMEOUT_SECONDS: Final = 3600  # the world's processor never times out during a test
PLAIN_TEXT: Final = "Checked by the late write suite"
_MISSING: Final = object()


@dataclass
class Cast:
    """Who is around every world: a staff member of each group and two registered sub-processors,
    `processor_id` (the one staff disclose to) and `notified_id` (the one a world's pending erasure
    waits on, so that its sharing consent is withdrawn without touching the other's)."""

    stack: LocalStack
    label: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processor_id: str = ""
    notified_id: str = ""

    def __post_init__(self) -> None:
        self.processor_id, self.notified_id = f"late-{self.label}", f"late-notified-{self.label}"
        officer = self.staff("privacy_officer")
        for processor_id in (self.processor_id, self.notified_id):
            terms = agreement(
                self.processor(processor_id).sub,
                deletion_channel={"kind": "sqs", "acknowledgement_timeout_seconds": ACK_TIMEOUT_SECONDS},
            )
            registered = officer.call("PUT", f"/v1/staff/processors/{processor_id}", terms)
            assert registered.status == 200, registered.text

    @property
    def processors(self) -> tuple[str, str]:
        return self.processor_id, self.notified_id

    def staff(self, group: str) -> Caller:
        """The cast's staff member of `group`, with a fresh access token (the same user every time)."""
        return Caller(self.stack, self.stack.staff_token(f"{group}-{self.label}@staff.example", group))

    def processor(self, processor_id: str) -> Caller:
        """A sub-processor's machine client, with a fresh access token."""
        return Caller(self.stack, self.stack.processor_token(processor_id))


class World:
    """One new customer who granted every purpose and holds the whole sample profile (unless
    `profile` is false: then nothing but consents, and no data key yet), and what the routes need
    of them, prepared on first use (`value`)."""

    def __init__(self, cast: Cast, *, profile: bool = True) -> None:
        self.cast = cast
        self.stack = cast.stack
        self.customer = Customer.signed_up(self.stack, f"late-{uuid.uuid4().hex[:12]}@example.com")
        for purpose in (*PURPOSES, *(f"{datamap.SHARING_PREFIX}{name}" for name in cast.processors)):
            granted = self.customer.call(
                "POST", "/v1/me/consents", {"purpose": purpose, "policy_version": POLICY_VERSION}
            )
            assert granted.status == 201, granted.text
        if profile:
            stored = self.customer.call("PUT", "/v1/me/profile", PROFILE)
            assert stored.status == 200, stored.text
        self._values: dict[str, str] = {}
        self._staff: dict[str, Caller] = {}
        self._processors: dict[str, Caller] = {}
        self._tokens: dict[str, str] = {}  # request id -> a task token taken off the queue, not yet acknowledged

    @property
    def subject_id(self) -> str:
        return self.customer.subject_id

    def staff(self, group: str) -> Caller:
        if group not in self._staff:
            self._staff[group] = self.cast.staff(group)
        return self._staff[group]

    def knows(self, name: str) -> bool:
        return name in PREPARERS

    def value(self, name: str) -> str:
        """The value named `name` (a path, query or body name), prepared the first time it is asked for."""
        if name not in self._values:
            PREPARERS[name](self)
        return self._values[name]

    # --- what the routes name, prepared on first use --------------------------------------------

    def _document(self) -> None:
        upload = {"file_name": "letter.txt", "content_type": "text/plain", "content_base64": "VmV4YnVyeSBsZXR0ZXI="}
        reply = self.customer.call("POST", "/v1/me/documents", upload)
        assert reply.status == 201, reply.text
        self._values["document_id"] = reply.body["document_id"]

    def _change_request(self) -> None:
        change = {"field": "legal_name", "value": "Quilliam Zephyrine-Ode", "reason": "Zephyrine wedding"}
        reply = self.customer.call("POST", "/v1/me/change-requests", change)
        assert reply.status == 201, reply.text
        self._values["change_request_id"] = reply.body["change_request_id"]

    def _open_request(self) -> None:
        """A request of the register still open when its route runs: a change request of its own (the
        world's `change_request_id` is decided by the decision route before the extension route runs)."""
        change = {"field": "birth_date", "value": "1980-05-07", "reason": "A typo in the form"}
        reply = self.customer.call("POST", "/v1/me/change-requests", change)
        assert reply.status == 201, reply.text
        self._values["open_request_id"] = reply.body["change_request_id"]

    def _export(self) -> None:
        reply = self.customer.call("POST", "/v1/me/exports")
        assert reply.status == 202, reply.text
        self._values["export_id"] = reply.body["export_id"]

    def _grant(self, categories: list[str], purpose: str) -> Reply:
        body = {"customer_id": self.subject_id, "purpose": purpose, "ticket": "SUP-1616", "categories": categories}
        reply = self.staff("support").call("POST", "/v1/staff/access-grants", body)
        assert reply.status == 201, reply.text
        return reply

    def _active_grant(self) -> None:
        reply = self._grant(["identity", "interactions"], datamap.CRM_CORE)
        assert reply.body["status"] == "active", reply.body
        self._values["grant_id"] = reply.body["grant_id"]

    def _invoice_grant(self) -> None:
        reply = self._grant(["invoices"], datamap.CRM_CORE)
        assert reply.body["status"] == "active", reply.body
        self._values["invoice_grant_id"] = reply.body["grant_id"]

    def _pending_grant(self) -> None:
        reply = self._grant(["health"], datamap.HEALTH_SERVICES)
        assert reply.body["status"] == "pending_approval", reply.body
        self._values["pending_grant_id"] = reply.body["grant_id"]

    def _pending_notification(self) -> None:
        """A purpose erasure waiting for the notified processor: the contact was disclosed to it, then
        sharing with it withdrawn (the other processor's sharing stays granted)."""
        processor_id = self.cast.notified_id
        body = {"processor_id": processor_id, "categories": ["contact"]}
        disclosed = self.staff("support").call("POST", f"/v1/staff/customers/{self.subject_id}/disclosures", body)
        assert disclosed.status == 201, disclosed.text
        withdrawn = self.customer.call("DELETE", f"/v1/me/consents/{datamap.SHARING_PREFIX}{processor_id}")
        assert withdrawn.status == 200, withdrawn.text
        request_id = withdrawn.body["erasure"]["request_id"]
        message = notification(self.stack, processor_id, request_id)
        token = str(message["task_token"])
        self._tokens[f"{processor_id}#{request_id}"] = token
        self._values.update(request_id=request_id, task_token=token, notified_processor_id=processor_id)

    def _fixed(self, name: str, value: str) -> None:
        self._values[name] = value

    def acknowledge(self, request_id: str) -> list[str]:
        """The cast's sub-processors acknowledge their deletion requests under `request_id`: those queued,
        and one taken off the queue for a route's request; returns the processors that acknowledged.

        A 409 (the wait already closed: another acknowledgement got there first) is not an error.
        """
        done = []
        for processor_id in self.cast.processors:
            token = self._tokens.pop(f"{processor_id}#{request_id}", None)
            if token is None:
                found = queued(self.stack, processor_id, request_id)
                if found is None:
                    continue
                token = str(found["task_token"])
            body = {"processor_id": processor_id, "request_id": request_id, "task_token": token}
            reply = self.processor(processor_id).call("POST", "/v1/processors/erasure-acks", body)
            assert reply.status in (200, 409), reply.text
            done.append(processor_id)
        return done

    def sent(self, request: Request) -> None:
        """`request` went out: a task token it carried is its acknowledgement, no longer the world's to give."""
        text = json.dumps(request.body)
        for key, token in list(self._tokens.items()):
            if token in text:
                del self._tokens[key]

    def awaiting(self) -> set[str]:
        """The erasure requests this world keeps waiting for an acknowledgement a route's request carries."""
        return {key.split("#", 1)[1] for key in self._tokens}

    def processor(self, processor_id: str) -> Caller:
        if processor_id not in self._processors:
            self._processors[processor_id] = self.cast.processor(processor_id)
        return self._processors[processor_id]


def _constant(name: str, value: Callable[[World], str]) -> Callable[[World], None]:
    return lambda world: world._fixed(name, value(world))


PREPARERS: Final[Mapping[str, Callable[[World], None]]] = {
    "customer_id": _constant("customer_id", lambda world: world.subject_id),
    "processor_id": _constant("processor_id", lambda world: world.cast.processor_id),
    "purpose": _constant("purpose", lambda world: datamap.MARKETING),  # granted; its withdrawal erases preferences
    "store": _constant("store", lambda world: "consents"),
    "document_id": World._document,
    "change_request_id": World._change_request,
    "open_request_id": World._open_request,
    "export_id": World._export,
    "grant_id": World._active_grant,
    "pending_grant_id": World._pending_grant,
    "invoice_grant_id": World._invoice_grant,
    "request_id": World._pending_notification,
    "task_token": World._pending_notification,
    "notified_processor_id": World._pending_notification,
}


def queued(stack: LocalStack, processor_id: str, request_id: str) -> dict[str, Any] | None:
    """The deletion request queued for `processor_id` under `request_id`, taken off the queue; None if none is.

    The queue is shared with every other test of the stack: the messages read past on the way are
    hidden while it looks (so that each receive shows new ones) and shown again at once after.
    """
    sqs = stack.clients("sqs")
    url = stack.resources.queues[naming.PROCESSOR_NOTIFICATIONS]
    passed: list[str] = []
    found: dict[str, Any] | None = None
    try:
        while found is None:
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
            if not received.get("Messages"):
                break
            for message in received["Messages"]:
                body = json.loads(message["Body"])
                if found is None and (body.get("processor_id"), body.get("request_id")) == (processor_id, request_id):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    found = dict(body)
                else:
                    passed.append(message["ReceiptHandle"])
    finally:
        for start in range(0, len(passed), 10):
            entries = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(passed[start : start + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return found


def notification(stack: LocalStack, processor_id: str, request_id: str, polls: int = 2400) -> dict[str, Any]:
    """The deletion request the workflow queues for `processor_id` under `request_id` (polled, bounded)."""
    for _ in range(polls):
        found = queued(stack, processor_id, request_id)
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no deletion request for {processor_id} under {request_id}")


# --- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """What the schema cannot say for one route: a body, other names for its parameters, another caller."""

    body: Callable[[World], Any] | None = None
    names: Mapping[str, str] = field(default_factory=dict)  # parameter -> the world's name for its value
    caller: str | None = None  # a staff group
    # What must hold just before the request is sent, not when it is prepared: requests prepared together
    # (a late-write round) each read the world as the others left it, so a state only one of them needs is
    # made at its sending (`Request.ready`).
    before: Callable[[World], None] | None = None


def _restricted(world: World) -> None:
    """The world's customer has restricted processing (on the ground a generated request names: the first)."""
    reply = world.customer.call("POST", "/v1/me/restriction", {"ground": GROUNDS[0]})
    assert reply.status in (200, 201), reply.text


def _agreement(world: World) -> dict[str, Any]:
    terms: dict[str, Any] = agreement(
        world.processor(world.cast.processor_id).sub,
        deletion_channel={"kind": "sqs", "acknowledgement_timeout_seconds": ACK_TIMEOUT_SECONDS},
    )
    return terms


OVERRIDES: Final[Mapping[str, Override]] = {
    "PUT /v1/me/profile": Override(body=lambda world: PROFILE),
    "PATCH /v1/me/profile": Override(
        body=lambda world: {"contact": {"phone": "+14155550123"}, "preferences": {"interests": ["sailing"]}}
    ),
    "POST /v1/me/documents": Override(
        body=lambda world: {
            "file_name": "late.txt",
            "content_type": "text/plain",
            "content_base64": "TGF0ZSBWZXhidXJ5IGxldHRlcg==",  # "Late Vexbury letter"
        }
    ),
    "POST /v1/staff/access-grants": Override(
        body=lambda world: {
            "customer_id": world.subject_id,
            "purpose": datamap.CRM_CORE,
            "ticket": "SUP-1617",
            "categories": ["identity", "contact"],
        }
    ),
    "POST /v1/staff/access-grants/{grant_id}/approval": Override(names={"grant_id": "pending_grant_id"}),
    "POST /v1/staff/customers/{customer_id}/disclosures": Override(
        body=lambda world: {"processor_id": world.cast.processor_id, "categories": ["contact", "preferences"]}
    ),
    "PUT /v1/staff/processors/{processor_id}": Override(body=_agreement),
    # The acknowledgement of the world's pending erasure comes from the processor it notified.
    "POST /v1/processors/erasure-acks": Override(names={"processor_id": "notified_processor_id"}),
    # Lifting needs a restriction; made at the sending, the other requests of a round read none.
    "DELETE /v1/me/restriction": Override(before=_restricted),
    # Invoices are read under a grant that covers them.
    "GET /v1/staff/customers/{customer_id}/invoices": Override(names={"grant_id": "invoice_grant_id"}),
    # A legal hold's last day is a day to come (the document's example is a fixed date).
    "PUT /v1/staff/customers/{customer_id}/legal-hold": Override(
        body=lambda world: {
            "reason_code": "dispute",
            "ticket": "LEG-1616",
            "until": (clock.now().date() + timedelta(days=30)).isoformat(),
        }
    ),
    # An open request to extend: a change request of its own (the pending purpose erasure is certified
    # already, waiting on its processor, and the world's change request is decided: both answered).
    "POST /v1/staff/requests/{request_id}/extension": Override(names={"request_id": "open_request_id"}),
}


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document the functions' resolvers serve, for the catalog's routes."""
    return openapi.build()


def _resolve(schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = document()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@dataclass(frozen=True)
class Request:
    """One request to send: the route, its path with values, query, headers, body and who sends it."""

    route: catalog.Route
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    caller: str  # "customer", a staff group, "processor" or "public"
    token: str | None
    before: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def ready(self) -> None:
        """Make what must hold just before this request is sent (`Override.before`); nothing for most."""
        if self.before is not None:
            self.before()

    def send(self, stack: LocalStack) -> Reply:
        """Through the local gateway (its own WSGI client: safe to use from another thread)."""
        headers = {"Content-Type": "application/json", **self.headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = Client(stack.gateway).open(
            self.path,
            method=self.route.method,
            query_string=self.query or None,
            data=None if self.body is None else json.dumps(self.body),
            headers=headers,
        )
        return Reply.of(response)

    def __str__(self) -> str:
        return f"{self.route.key} as {self.caller}"


def caller_of(route: catalog.Route, override: Override | None) -> str:
    if override is not None and override.caller:
        return override.caller
    if route.audience is Audience.STAFF:
        return "support" if "support" in route.groups else route.groups[0]
    return route.audience.value


def request_for(route: catalog.Route, world: World) -> Request:
    """The route's request against `world`. Raises `KeyError` when a required value has no source."""
    operation = document()["paths"][route.path][route.method.lower()]
    override = OVERRIDES.get(route.key)
    names = dict(override.names) if override else {}
    path_values: dict[str, str] = {}
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, where, required = parameter["name"], parameter["in"], parameter.get("required", False)
        source = names.get(name, name)
        if where == "path":
            path_values[name] = world.value(source)
        elif where == "query" and (required or world.knows(source)):
            query[name] = world.value(source)
        elif where == "header" and name.lower() == "idempotency-key":
            headers["Idempotency-Key"] = f"late-{uuid.uuid4().hex}"
    body: Any = None
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if override is not None and override.body is not None:
        body = override.body(world)
    elif content is not None:
        body = fill(content["schema"], world, None, required=True, names=names)
    caller = caller_of(route, override)
    if caller == Audience.PROCESSOR.value:  # the processor the request names acts for itself
        named = (body or {}).get("processor_id") if isinstance(body, dict) else None
        caller = f"processor:{named or path_values.get('processor_id') or world.cast.processor_id}"
    before = override.before if override is not None else None
    return Request(
        route,
        route.path.format(**path_values),
        query,
        headers,
        body,
        caller,
        _token(world, caller),
        (lambda: before(world)) if before is not None else None,
    )


def _token(world: World, caller: str) -> str | None:
    if caller == Audience.PUBLIC.value:
        return None
    if caller == Audience.CUSTOMER.value:
        return world.customer.token
    if caller.startswith(f"{Audience.PROCESSOR.value}:"):
        return world.processor(caller.split(":", 1)[1]).token
    return world.staff(caller).token


def fill(schema: Any, world: World, name: str | None, *, required: bool, names: Mapping[str, str] | None = None) -> Any:
    """A value for `schema`: the world's by name, else const, example, enum; `_MISSING` for an
    optional value nothing suggests."""
    schema = _resolve(schema)
    names = names or {}
    source = names.get(name, name) if name is not None else None
    if source is not None and world.knows(source):
        return world.value(source)
    if not isinstance(schema, dict):
        return _MISSING
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    if "anyOf" in schema or "oneOf" in schema:
        options = [_resolve(option) for option in schema.get("anyOf", schema.get("oneOf", []))]
        for option in sorted(options, key=lambda option: option.get("type") == "null"):
            if option.get("type") == "null":
                return None if required else _MISSING
            found = fill(option, world, name, required=required, names=names)
            if found is not _MISSING:
                return found
        return _MISSING
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        needed = set(schema.get("required", ()))
        built = {}
        for key, member in schema.get("properties", {}).items():
            found = fill(member, world, key, required=key in needed, names=names)
            if found is not _MISSING:
                built[key] = found
        return built if (built or required) else _MISSING
    if not required:
        return _MISSING
    if kind == "array":
        item = fill(schema.get("items", {}), world, None, required=True, names=names)
        return [item] * max(1, int(schema.get("minItems", 1)))
    if kind == "string":
        if schema.get("format") == "date":
            return "2026-11-01"
        return PLAIN_TEXT[: int(schema.get("maxLength", len(PLAIN_TEXT)))]
    if kind in ("integer", "number"):
        return int(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return _MISSING


def names_the_customer(route: catalog.Route) -> bool:
    """Whether the route's request is about the world's customer: theirs (but the withdrawal), or staff's
    naming them by `customer_id` in the path, the query or the body."""
    if route.key == "POST /v1/me/withdrawal" or route.audience in (Audience.PUBLIC, Audience.PROCESSOR):
        return False
    if route.audience is Audience.CUSTOMER:
        return True
    operation = document()["paths"][route.path][route.method.lower()]
    names = {parameter["name"] for parameter in operation.get("parameters", [])}
    schema = _resolve(operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}))
    return "customer_id" in names or "customer_id" in schema.get("properties", {})
