"""What every API function shares: the resolver, its error mapping and observability.

A handler module builds its resolver with `build_resolver(function_name)`, declares its
routes, and exports `lambda_handler = entrypoint(app, observability)`.

Error bodies are always `{"error": code, "message", "details"}`. Validation errors name
the field and the reason but never echo the value sent: a rejected value may be personal data.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from custody import catalog
from custody.audit import AuditLedger, refusal_chain, refusals_chain, subject_chain
from custody.errors import (
    ConsentRequired,
    CustodyError,
    Forbidden,
    NotImplementedYet,
    ReauthenticationRequired,
    ServiceBusy,
    Unauthenticated,
    field_errors,
)
from custody.ledger_grammar import is_uuid
from custody.settings import get_settings
from custody.transient import AWS_FAILURES, busy, is_transient

METRICS_NAMESPACE = catalog.METRICS_NAMESPACE
RECENT_SIGN_IN_SECONDS = 15 * 60
# The domain's refusals on identity, authorization and consent: each one is an audit event.
AUDITED_REFUSALS: tuple[type[CustodyError], ...] = (ConsentRequired, Forbidden, Unauthenticated)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observability:
    logger: Logger
    tracer: Tracer
    metrics: Metrics


TRACED_MODULES = ("botocore",)


def observability(function_name: str) -> Observability:
    service = catalog.function(function_name).service
    return Observability(
        logger=Logger(service=service),
        # Every call we make goes through botocore; patching only it spares the X-Ray SDK from
        # importing and wrapping every other library it knows (httplib, requests, sqlite3, ...).
        tracer=Tracer(service=service, patch_modules=TRACED_MODULES),
        metrics=Metrics(namespace=METRICS_NAMESPACE, service=service),
    )


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response[Any]:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body={"error": code, "message": message, "details": details or {}},
    )


def _route_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")


JSON_CONTENT_TYPES = ("application/json", "application/merge-patch+json")


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """A body in anything but JSON gets a 415 before validation could misread it as a form."""
    if not event.get("body"):
        return None
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type in JSON_CONTENT_TYPES:
        return None
    return {
        "statusCode": int(HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(
            {
                "error": "unsupported_media_type",
                "message": "Send the body as JSON (Content-Type: application/json).",
                "details": {},
            }
        ),
        "isBase64Encoded": False,
    }


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
    return {
        "statusCode": int(HTTPStatus.BAD_REQUEST),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(
            {"error": "malformed_request", "message": "The request body is not UTF-8 encoded JSON.", "details": {}}
        ),
        "isBase64Encoded": False,
    }


def build_resolver(function_name: str) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    declared = [(route.method, route.path, _route_pattern(route.path)) for route in catalog.routes_of(function_name)]

    def refusal(error: CustodyError) -> Response[Any]:
        if isinstance(error, AUDITED_REFUSALS):
            audit_refusal(app, function_name, error)
        response = error_response(error.status, error.code, error.message, error.details)
        if isinstance(error, ServiceBusy):
            response.headers["Retry-After"] = str(ServiceBusy.retry_after_seconds)
        return response

    app.exception_handler(CustodyError)(refusal)

    @app.exception_handler(list(AWS_FAILURES))
    def _aws_fault(error: Exception) -> Response[Any]:
        # An AWS failure that outlived botocore's retries is the client's to retry; any other
        # (access denied, a missing resource, a bad call) is re-raised: a fault that alarms.
        if not is_transient(error):
            raise error
        return refusal(busy(error))

    @app.exception_handler(RecursionError)
    def _too_deep(_: RecursionError) -> Response[Any]:
        # A body nested thousands of levels deep exhausts the JSON decoder's recursion (found by
        # tests/robustness/test_bad_input.py): malformed input, not a server fault.
        return error_response(HTTPStatus.BAD_REQUEST, "malformed_request", "The request body is nested too deeply.")

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[Any]:
        errors = list(error.errors())
        if any(item.get("type") == "json_invalid" for item in errors):
            return error_response(HTTPStatus.BAD_REQUEST, "malformed_request", "The request body is not valid JSON.")
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid_input",
            "The request does not match the API's schema.",
            field_errors(errors),
        )

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[Any]:
        event = app.current_event
        matched = [
            path for method, path, pattern in declared if method == event.http_method and pattern.match(event.path)
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


def entrypoint(
    app: APIGatewayRestResolver, obs: Observability
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler: context injected into logs (never the event), traced, metrics flushed."""

    @obs.logger.inject_lambda_context(log_event=False, clear_state=True)
    @obs.tracer.capture_lambda_handler(capture_response=False)
    @obs.metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return unsupported_media_type(event) or undecodable_body(event) or app.resolve(event, context)

    return cast("Callable[[dict[str, Any], LambdaContext], dict[str, Any]]", lambda_handler)


def audit_refusal(app: APIGatewayRestResolver, function_name: str, error: CustodyError) -> None:
    """Record a refusal: the route template, the error code and opaque ids, never the request's values.

    A customer's refusal goes on their own chain; a staff member's or processor's on the chain of
    the customer the route names if that customer exists, else on the function's refusal chain.
    The actor is the audience and the token's `sub` (when it is a UUID), never a request value. A
    ledger failure is logged and the refusal still answered: refusing never depends on the ledger.
    """
    event = app.current_event
    route = f"{event.http_method} {event.resource}"
    audience = next(
        (item.audience for item in catalog.routes_of(function_name) if f"{item.method} {item.path}" == route),
        catalog.Audience.PUBLIC,
    )
    authorizer = event.request_context.authorizer
    caller = str((authorizer.claims or {}).get("sub", "")) if authorizer is not None else ""
    try:
        # Ids the ledger may hold only: the caller's sub if it is a UUID; a customer the path names
        # only if they exist (else the function's refusal chain, without the path's text).
        if audience is catalog.Audience.CUSTOMER:
            subject, actor = (caller if is_uuid(caller) else None), "customer"
            chain = subject_chain(subject) if subject else refusals_chain(function_name)
        else:
            named = (event.path_parameters or {}).get("customer_id")
            chain, subject = refusal_chain(get_settings(), function_name, named)
            actor = f"{audience.value}:{caller}" if is_uuid(caller) else audience.value
        AuditLedger(get_settings()).record(
            step="access_refused",
            target=route,
            outcome=error.code,
            actor=actor,
            subject_id=subject,
            chain_id=chain,
        )
    except Exception:
        log.exception("The refusal could not be written to the audit ledger")


def claims(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The verified token's claims, as API Gateway's Cognito authorizer passes them."""
    authorizer = app.current_event.request_context.authorizer
    found = authorizer.claims if authorizer is not None else None
    if not found:
        raise Unauthenticated("A valid token is required.")
    return dict(found)


def subject_id(app: APIGatewayRestResolver) -> str:
    """The customer is always the token's `sub`, never a value from the path or body."""
    subject = claims(app).get("sub")
    if not subject:
        raise Unauthenticated("The token carries no subject.")
    return str(subject)


def require_recent_sign_in(app: APIGatewayRestResolver, now: float, max_age: int = RECENT_SIGN_IN_SECONDS) -> None:
    """Irreversible requests need a sign-in within `max_age` seconds (the token's `auth_time`)."""
    try:
        auth_time = int(claims(app).get("auth_time", 0))
    except (TypeError, ValueError):
        auth_time = 0
    if now - auth_time > max_age:
        raise ReauthenticationRequired("Sign in again to confirm this request.", {"max_age_seconds": max_age})
