"""What every API function shares: authorization, the resolver, its error mapping and observability.

A handler module builds its resolver with `build_resolver(function_name)`, declares its
routes, and exports `lambda_handler = entrypoint(app, observability)`. Before any route runs,
`entrypoint` authorizes the caller for the catalog route API Gateway names
(`custody.access_control.authorization`); a handler reads who is calling with `caller(app)`.

Error bodies are always `{"error": code, "message", "details"}`. Validation errors name
the field and the reason but never echo the value sent: a rejected value may be personal data.
Every request body is read as JSON in one place, `decode_json_body`, and any failure there is a 400.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Final, NoReturn, cast
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from custody.access_control import authorization
from custody.access_control.authorization import Caller
from custody.audit.ledger import AuditLedger, AuditWriteFailed, refusal_chain, refusals_chain, subject_chain
from custody.declared import catalog
from custody.declared.errors import (
    ConsentRequired,
    CustodyError,
    Forbidden,
    MalformedRequest,
    NotImplementedYet,
    ReauthenticationRequired,
    ServiceBusy,
    TooManyRequests,
    Unauthenticated,
    field_errors,
)
from custody.declared.ids import is_uuid
from custody.declared.settings import Settings, get_settings
from custody.platform.observability import Observability
from custody.platform.transient import AWS_FAILURES, busy, is_transient
from custody.stores.subjects import SubjectRegistry
from custody.subprocessors.acknowledgements import actor_of
from custody.subprocessors.registry import Agreement, ProcessorRegistry

METRICS_NAMESPACE = catalog.METRICS_NAMESPACE
RECENT_SIGN_IN_SECONDS = 15 * 60
# The domain's refusals on identity, authorization and consent: each one is an audit event.
AUDITED_REFUSALS: tuple[type[CustodyError], ...] = (ConsentRequired, Forbidden, Unauthenticated)
log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response[Any]:
    """A Powertools response of `status` with the API's error body `{"error": code, "message", "details"}`."""
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body={"error": code, "message": message, "details": details or {}},
    )


def _route_pattern(path: str) -> re.Pattern[str]:
    """The concrete paths of a route template (use with `fullmatch`)."""
    return re.compile(re.sub(r"\{[^/]+\}", "[^/]+", path))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def names_its_route(route: catalog.Route, event: Mapping[str, Any]) -> bool:
    """Whether the event's `path` is a request for `route`, its path parameters that path's segments.

    The parameters must also be free of control characters.

    Authorization is decided on `httpMethod` and `resource`, while the resolver dispatches on
    `path`: an event whose two disagree (only a direct invocation can build one) would be
    authorized for one route and run another. A newline or other control character in a
    segment is refused too: Python's `$`, which the resolver's patterns end with, matches before
    a final newline.
    """
    path = str(event.get("path") or "")
    template, found = route.path.split("/"), path.split("/")
    parameters = event.get("pathParameters") or {}
    if len(template) != len(found) or _CONTROL.search(path):
        return False
    named = set()
    for expected, segment in zip(template, found, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            value = str(parameters.get(expected[1:-1], ""))
            if not segment or value not in (segment, unquote(segment)) or _CONTROL.search(value):
                return False
            named.add(expected[1:-1])
        elif expected != segment:
            return False
    return named == set(parameters)


JSON = "application/json"
# JSON merge patch (RFC 7396) is JSON: PATCH takes it, and Powertools reads it as JSON.
JSON_CONTENT_TYPES = (JSON, "application/merge-patch+json")
UNSUPPORTED_MEDIA_TYPE: Final = (
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    "unsupported_media_type",
    "Send the body as JSON (Content-Type: application/json).",
)


def _media_type(event: Mapping[str, Any]) -> str:
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    return headers.get("content-type", JSON).split(";")[0].strip().lower()


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """A body in anything but JSON gets a 415 before validation could misread it as a form."""
    if not event.get("body") or _media_type(event) in JSON_CONTENT_TYPES:
        return None
    return proxy_error(*UNSUPPORTED_MEDIA_TYPE)


def as_json(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a JSON-typed body declared `application/json`, the one spelling Powertools parses.

    Powertools compares media types case-sensitively; they are not (RFC 9110, 8.3.1). The event is
    returned as is when it has no body or already says exactly `application/json`, else a copy.
    """
    declared = [value for name, value in (event.get("headers") or {}).items() if str(name).lower() == "content-type"]
    if not event.get("body") or declared == [JSON]:
        return event
    retyped = dict(event)
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if headers:
            value: Any = [JSON] if key == "multiValueHeaders" else JSON
            retyped[key] = {name: value if name.lower() == "content-type" else found for name, found in headers.items()}
    return retyped


def _implements(app: APIGatewayRestResolver, method: str, path: str) -> bool:
    """Whether the resolver registered a handler for this catalog route (`{name}` is `<name>` there)."""
    return any(
        route.method == method and re.sub(r"<(\w+)>", r"{\1}", route.path) == path
        for route in (*app._static_routes, *app._dynamic_routes)
    )


def undecodable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """A JSON body that is not UTF-8 (API Gateway passes it base64-encoded) is a 400, not a crash."""
    if not event.get("isBase64Encoded") or not event.get("body"):
        return None
    try:
        base64.b64decode(str(event["body"]), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        pass
    else:
        return None
    return proxy_error(HTTPStatus.BAD_REQUEST, "malformed_request", "The request body is not UTF-8 encoded JSON.")


class _RepeatedKey(ValueError):
    pass


class _TooManyDigits(ValueError):
    pass


_UNREADABLE: Final[Mapping[type[Exception], str]] = {
    RecursionError: "The request body is nested too deeply.",
    _RepeatedKey: "An object in the request body has the same key twice.",
    _TooManyDigits: "A number in the request body has too many digits.",
}
UNREADABLE_JSON: Final = "The request body is not valid JSON."


def decode_json_body(text: str) -> Any:
    """A request body (text, already UTF-8 decoded) as JSON: the one decoder of every route's body.

    It is the resolver's `json_body_deserializer`, called by Powertools' request validation.
    Stricter than `json.loads` where JSON parsers disagree (RFC 8259): an object with the same key
    twice, and `NaN` / `Infinity` (JavaScript's, not JSON's), are refused. Raises `MalformedRequest`
    (400 `malformed_request`) for every failure to decode, naming the kind but never the content:
    invalid JSON, a repeated key, nesting past the decoder's recursion limit, an integer longer than
    the interpreter converts (`sys.get_int_max_str_digits()`, 4,300).
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_not_json, parse_int=_integer)
    except (ValueError, RecursionError) as error:
        raise MalformedRequest(_UNREADABLE.get(type(error), UNREADABLE_JSON)) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _RepeatedKey
    return found


def _not_json(_: str) -> NoReturn:
    raise ValueError


def _integer(digits: str) -> int:
    limit = sys.get_int_max_str_digits()
    if limit and len(digits.lstrip("-")) > limit:
        raise _TooManyDigits
    return int(digits)


class CustodyResolver(APIGatewayRestResolver):
    """A function's resolver: its catalog routes and, during a request, the authorized `Caller`.

    Built for the catalog function `function_name`, with Powertools' request validation on.
    """

    def __init__(self, function_name: str) -> None:
        super().__init__(enable_validation=True, json_body_deserializer=decode_json_body)
        self.function_name = function_name
        self.routes: dict[str, catalog.Route] = {route.key: route for route in catalog.routes_of(function_name)}

    @property
    def caller(self) -> Caller:
        """Who is calling; set by `entrypoint` before any route runs (KeyError outside a request)."""
        found: Caller = self.context["caller"]
        return found


NO_BODY_EXPECTED: Final = "This operation takes no request body; send none."


def _empty_object(body: str) -> bool:
    try:
        return bool(decode_json_body(body) == {})
    except MalformedRequest:
        return False


def _no_body_where_none_is_declared(app: APIGatewayRestResolver, next_middleware: Any) -> Response[Any]:
    """A request body on an operation that declares none is a 400, never ignored.

    An ignored `{"confirm": false}` sent to `POST /v1/me/withdrawal` still started an erasure
    that cannot be undone (found by a fresh break). An empty JSON object, which many clients send
    with every POST, carries nothing and passes. The route's Powertools dependant lists the
    body parameters its handler declares, the same that the OpenAPI document shows.
    """
    route = app.context.get("_route")
    body = app.current_event.body
    if route is not None and not route.dependant.body_params and body and not _empty_object(body):
        return error_response(HTTPStatus.BAD_REQUEST, "malformed_request", NO_BODY_EXPECTED)
    response: Response[Any] = next_middleware(app)
    return response


def build_resolver(function_name: str) -> CustodyResolver:
    """The resolver of the function `function_name`, its catalog routes and error handlers in place.

    The handlers answer in the one error shape: a `CustodyError` with its status and code (a
    `ConsentRequired`, `Forbidden` or `Unauthenticated` is recorded on the audit ledger first,
    `record_refusal`); an AWS failure that outlived botocore's retries, or an audit chain that kept
    moving past the ledger's backoff (`AuditWriteFailed`), with 503 `service_busy` and `Retry-After`,
    any other AWS error re-raised (a fault that alarms); a body that cannot be decoded
    (`decode_json_body`) with 400; a schema violation with 422 and field errors, no value; a media type Powertools
    refuses with 415; a declared route without a handler with 501 `not_implemented`, any other unmatched
    path with 404.
    """
    app = CustodyResolver(function_name)
    declared = [(route.method, route.path, _route_pattern(route.path)) for route in app.routes.values()]

    def refusal(error: CustodyError) -> Response[Any]:
        if isinstance(error, AUDITED_REFUSALS):
            event = app.current_event
            route = app.routes.get(f"{event.http_method} {event.resource}")
            if route is not None:
                record_refusal(function_name, route, event.raw_event, app.context.get("caller"), error)
        return error_response_of(error)

    app.exception_handler(CustodyError)(refusal)
    app.use([_no_body_where_none_is_declared])

    @app.exception_handler(list(AWS_FAILURES))
    def _aws_fault(error: Exception) -> Response[Any]:
        # An AWS failure that outlived botocore's retries is the client's to retry; any other
        # (access denied, a missing resource, a bad call) is re-raised: a fault that alarms.
        if not is_transient(error):
            raise error
        return refusal(busy(error))

    @app.exception_handler(AuditWriteFailed)
    def _ledger_contended(error: AuditWriteFailed) -> Response[Any]:
        # The chain kept moving past the ledger's backoff: as transient as a throttle, and the
        # client's to retry (a sensitive action is never done without its event).
        return refusal(busy(error))

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[Any]:
        errors = list(error.errors())
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid_input",
            "The request does not match the API's schema.",
            field_errors(errors),
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(*UNSUPPORTED_MEDIA_TYPE)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[Any]:
        event = app.current_event
        matched = [
            path for method, path, pattern in declared if method == event.http_method and pattern.fullmatch(event.path)
        ]
        if matched and any(_implements(app, event.http_method, path) for path in matched):
            # API Gateway took the path but Powertools' parameter pattern did not (a `"`, `#`, `\\`,
            # a control or symbol character in an id): no such resource, not a missing capability.
            return error_response(HTTPStatus.NOT_FOUND, "not_found", "No such resource.")
        if matched:
            not_yet = NotImplementedYet("This route is declared but its capability has not been built yet.")
            return error_response(not_yet.status, not_yet.code, not_yet.message)
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "No such route.")

    return app


def error_response_of(error: CustodyError) -> Response[Any]:
    """The response to a domain error: its status and body, and `Retry-After` (seconds) when the error has one."""
    response = error_response(error.status, error.code, error.message, error.details)
    if isinstance(error, ServiceBusy):
        response.headers["Retry-After"] = str(ServiceBusy.retry_after_seconds)
    elif isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


def entrypoint(app: CustodyResolver, obs: Observability) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler of `app`, observed through `obs`.

    It authorizes the caller for the route, injects the Lambda context into logs (never the event),
    traces, flushes metrics, and answers every error as `{"error", "message", "details"}`.

    A request whose `httpMethod` and `resource` name no route of this function is a 404; one the
    caller may not make is refused (401/403, `custody.access_control.authorization`) and recorded in the audit
    ledger before anything else of the request is read.
    """

    @obs.logger.inject_lambda_context(log_event=False, clear_state=True)
    @obs.tracer.capture_lambda_handler(capture_response=False)
    @obs.metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return one_error_shape(_handle(app, event, context))

    return cast("Callable[[dict[str, Any], LambdaContext], dict[str, Any]]", lambda_handler)


def _handle(app: CustodyResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = app.routes.get(f"{event.get('httpMethod')} {event.get('resource')}")
    if route is None or not names_its_route(route, event):
        return proxy_error(HTTPStatus.NOT_FOUND, "not_found", "No such route.")
    settings = get_settings()
    caller: Caller | None = None
    try:
        caller = authorization.authenticate(route, authorizer_claims(event), settings)
        authorization.permit(route, caller, settings)
    except CustodyError as error:
        if isinstance(error, AUDITED_REFUSALS):
            record_refusal(app.function_name, route, event, caller, error)
        return proxy_error(error.status, error.code, error.message, error.details)
    early = unsupported_media_type(event) or undecodable_body(event)
    if early is not None:
        return early
    app.append_context(caller=caller)  # type: ignore[no-untyped-call]
    return app.resolve(as_json(event), context)


def authorizer_claims(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The claims API Gateway's Cognito authorizer put into the event, if any."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    found = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    return found if isinstance(found, Mapping) else None


def proxy_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error as the Lambda proxy response API Gateway maps back to HTTP."""
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": code, "message": message, "details": details or {}}),
        "isBase64Encoded": False,
    }


# What an error that is not ours (a Powertools refusal) becomes, by status.
_GENERIC_ERRORS: Final[Mapping[int, tuple[str, str]]] = {
    400: ("malformed_request", "The request is malformed."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed here."),
    415: ("unsupported_media_type", "Send the body as JSON (Content-Type: application/json)."),
    422: ("invalid_input", "The request does not match the API's schema."),
}


def one_error_shape(response: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx body as `{"error", "message", "details"}`.

    A body in any other shape (one a library answered with) is replaced by the generic error of its
    status; nothing of it is kept. A response below 400 is returned as is.
    """
    status = int(response.get("statusCode", 200))
    if status < 400:
        return response
    try:
        body = json.loads(response.get("body") or "null") if not response.get("isBase64Encoded") else None
    except ValueError:
        body = None
    if isinstance(body, dict) and {"error", "message", "details"} <= set(body):
        return response
    code, message = _GENERIC_ERRORS.get(
        status, ("client_error", "The request was refused.") if status < 500 else ("internal_error", "Internal error.")
    )
    headers = {name: value for name, value in (response.get("headers") or {}).items() if name.lower() != "content-type"}
    replaced = proxy_error(status, code, message)
    replaced["headers"] = {**headers, **replaced["headers"]}
    replaced.pop("multiValueHeaders", None)
    return replaced


def record_refusal(
    function_name: str, route: catalog.Route, event: Mapping[str, Any], caller: Caller | None, error: CustodyError
) -> None:
    """Record a refusal: the route template, the error code and opaque ids, never the request's values.

    A customer's refusal goes on their own chain — unless their erasure already left its tombstone: then
    nothing more is written about them, and an old token's tries go on the function's refusal chain,
    naming no subject. A staff member's or processor's goes on the chain of the customer the path
    names if that customer exists, else on the function's refusal chain.
    The actor is the authenticated caller (`refusal_actor`), never a request value. A ledger
    failure is logged and the refusal still answered: refusing never depends on the ledger.
    """
    settings = get_settings()
    try:
        if caller is not None and caller.audience is catalog.Audience.CUSTOMER:
            subject = caller.subject if is_uuid(caller.subject) else None
            if subject and SubjectRegistry(settings).load(subject).is_tombstone:
                subject = None  # an erased customer's chain is closed: an old token's tries go on the function's
            chain = subject_chain(subject) if subject else refusals_chain(function_name)
        else:
            named = (event.get("pathParameters") or {}).get("customer_id")
            chain, subject = refusal_chain(settings, function_name, named)
        actor, processor = refusal_actor(settings, route, caller)
        AuditLedger(settings).record(
            step="access_refused",
            target=route.key,
            outcome=error.code,
            actor=actor,
            subject_id=subject,
            chain_id=chain,
            processor=processor,
        )
    except Exception:
        log.exception("The refusal could not be written to the audit ledger")


def refusal_actor(settings: Settings, route: catalog.Route, caller: Caller | None) -> tuple[str, Agreement | None]:
    """Who was refused, as the ledger may name them, and the agreement that proves a processor id.

    The route's audience when the caller was not authenticated; `customer`; `staff/<sub>`; a
    sub-processor as `processor/<registry id>` when its token's `sub` (its app client) is the
    principal of an agreement, else `processor`.
    """
    if caller is None or caller.audience is catalog.Audience.PUBLIC:
        return route.audience.value, None
    if caller.audience is catalog.Audience.PROCESSOR:
        agreement = ProcessorRegistry(settings).for_principal(caller.subject)
        return (actor_of(agreement), agreement) if agreement is not None else (caller.audience.value, None)
    if caller.audience is catalog.Audience.STAFF and is_uuid(caller.subject):
        return caller.actor, None
    return caller.audience.value, None


def caller(app: APIGatewayRestResolver) -> Caller:
    """The authorized caller of the request being handled (`entrypoint` authorized it)."""
    if not isinstance(app, CustodyResolver):
        raise TypeError("custody.api.http.caller needs a resolver built by build_resolver")
    return app.caller


def subject_id(app: APIGatewayRestResolver) -> str:
    """The customer is always the token's `sub`, never a value from the path or body."""
    return caller(app).subject


def require_recent_sign_in(app: APIGatewayRestResolver, now: float, max_age: int = RECENT_SIGN_IN_SECONDS) -> None:
    """Irreversible requests need a sign-in within `max_age` seconds (the token's `auth_time`)."""
    auth_time = authorization.claim_time(caller(app).claims.get("auth_time")) or 0.0
    if now - auth_time > max_age:
        raise ReauthenticationRequired("Sign in again to confirm this request.", {"max_age_seconds": max_age})
