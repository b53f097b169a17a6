"""A local API Gateway (REST API, Lambda proxy integration) in front of the in-process functions.

For each request it does what the deployed API Gateway does, in the same order:

1. match a route of `custody.declared.catalog.ROUTES` (else 403 `Missing Authentication Token`, which is
   what a REST API answers for a resource or method it does not define);
2. run the Cognito authorizer (`devstack.auth`): 401 `Unauthorized` for a missing or invalid
   token, or one without the method's OAuth scopes; public routes skip it. Groups, app
   clients and the rest are the function's to check, as in AWS (`custody.access_control.authorization`);
3. build the REST proxy event (resource, path, path and query parameters with their
   multi-value forms, headers, body - base64 for binary media - and a requestContext with
   stage, requestId, identity and, after step 2, `authorizer.claims`);
4. invoke the function owning the route through the Lambda API (`lambda:Invoke` on the moto
   server), whose patched `_invoke_lambda` runs the handler in-process through
   `devstack.runtime.invoke` - the one code path Step Functions tasks take too, with the
   function's deployed configuration and its CloudWatch Logs - and map its proxy response
   back to HTTP (502 `Internal server error` when the function raised or returned something
   that is not a proxy response; 500 when Lambda refused the invocation, e.g. throttled it:
   "If the Lambda API rejects the invocation request, API Gateway returns a 500 error code",
   Lambda developer guide, "Handling Lambda errors with an API Gateway API").

It also serves the web pages (`devstack.site`): GET and HEAD of any path outside `/v1/` answer the
files of `build/web` and the generated `/config.json` under the pages' security headers, so the pages
and the API share one origin as they do behind CloudFront. And it serves the merged OpenAPI document
at `/openapi.json` and the API reference at `/docs/` (the built Swagger UI page of `build/web/docs/`,
served by `devstack.site` as every page, with the deployed headers), the
user pools' OAuth 2.0 token endpoint for machine clients at `/_cognito/<pool id>/oauth2/token`
(moto has none; `devstack.cognito`), and, for the demo journey, what moto's SES accepted to send at
`GET /_ses/sent-messages` (SES has no API that reads sent mail back; moto keeps it in its backend, in
this process). Local only: the deployed API has none of these.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from custody.declared import catalog
from devstack import cognito, events, site
from devstack.auth import Principal, TokenVerifier, Unauthorized
from devstack.runtime import Invocation

LOG = logging.getLogger("devstack.gateway")

DEFAULT_PORT: Final = 3000
# TODO(custody): the CDK stack's stage is `infra.config.CustodyConfig.stage_name`; a shared
# declaration (naming/settings) would let both derive it. tests/infra/test_devstack_parity.py
# fails if they drift apart.
STAGE: Final = events.STAGE
# API Gateway's REST API payload quota (10 MB), refused before any authorizer or function runs.
MAX_PAYLOAD_BYTES: Final = 10 * 1024 * 1024
TOKEN_ENDPOINT_PREFIX: Final = "/_cognito/"  # noqa: S105 - a path, not a secret
SENT_MESSAGES_PATH: Final = "/_ses/sent-messages"

# Request bodies of these media types reach the function as text; anything else (or text
# that is not UTF-8) arrives base64-encoded with `isBase64Encoded: true`, as API Gateway does
# for the binary media types of the REST API.
TEXT_MEDIA_TYPES: Final = (
    "application/json",
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/javascript",
    "text/",
)

Invoke = Callable[[str, Any], Invocation]


def lambda_invoker(lambda_client: Any) -> Invoke:
    """Invoke a function by name through the Lambda API, reporting what Lambda reports."""

    def invoke(function_name: str, event: Any) -> Invocation:
        started = time.monotonic()
        response = lambda_client.invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload: bytes = response["Payload"].read()
        error_type = None
        if response.get("FunctionError"):
            try:
                error_type = str(json.loads(payload).get("errorType") or response["FunctionError"])
            except (ValueError, AttributeError):
                error_type = str(response["FunctionError"])
        request_id = str(response.get("ResponseMetadata", {}).get("RequestId", ""))
        return Invocation(request_id, payload, error_type, (time.monotonic() - started) * 1000)

    return invoke


def is_text_media(content_type: str | None) -> bool:
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return media.startswith(TEXT_MEDIA_TYPES) or media.endswith("+json") or media.endswith("+xml")


def _rule_path(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def _gateway_error(status: int, response_type: str, message: str, error_type: str, request_id: str) -> Response:
    """API Gateway's own refusal, in the API's error shape (its gateway responses: catalog.GATEWAY_RESPONSES)."""
    body = {"error": catalog.GATEWAY_RESPONSES[response_type], "message": message, "details": {}}
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id},
    )


@dataclass(frozen=True)
class RouteMatch:
    route: catalog.Route
    path_parameters: dict[str, str]


class Gateway:
    """The WSGI application."""

    def __init__(
        self,
        functions: Mapping[str, str],
        verifier: TokenVerifier,
        invoke: Invoke,
        openapi_document: Callable[[], dict[str, Any]],
        *,
        routes: Iterable[catalog.Route] = catalog.ROUTES,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        stage: str = STAGE,
        pages: site.Site | None = None,
    ) -> None:
        """`functions` maps a catalog function name to its deployed function name; `pages` serves the web pages."""
        self.routes = tuple(routes)
        missing = sorted({route.function for route in self.routes} - set(functions))
        if missing:
            raise ValueError(f"No deployed function for routes of: {', '.join(missing)}")
        self.functions = dict(functions)
        self.verifier = verifier
        self.invoke = invoke
        self.account_id = account_id
        self.region = region
        self.stage = stage
        self.pages = pages
        self._openapi_document = openapi_document
        self._openapi_cache: bytes | None = None
        self._openapi_lock = threading.Lock()
        self.url_map = Map(
            [
                Rule(_rule_path(route.path), endpoint=index, methods=[route.method])
                for index, route in enumerate(self.routes)
            ],
            strict_slashes=False,
            merge_slashes=False,
        )

    # --- WSGI -------------------------------------------------------------------------------

    def _sent_messages(self) -> Response:
        body = json.dumps({"messages": sent_messages(self.account_id, self.region)})
        return Response(body, status=200, content_type="application/json")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        if request.method == "GET" and request.path == "/openapi.json":
            return Response(self.openapi_bytes(), content_type="application/json")
        if request.method == "POST" and request.path.startswith(TOKEN_ENDPOINT_PREFIX):
            return self._token(request)
        if request.method == "GET" and request.path == SENT_MESSAGES_PATH:
            return self._sent_messages()
        if self.pages is not None and site.is_page_request(request):
            return self.pages.handle(request)
        match = self.match(request.method, request.path)
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            response = _gateway_error(413, "REQUEST_TOO_LARGE", "Request Too Long", "RequestTooLarge", request_id)
            resource = match.route.path if match else "(no route)"
        elif match is None:
            response = _gateway_error(
                403,
                "MISSING_AUTHENTICATION_TOKEN",
                "Missing Authentication Token",
                "MissingAuthenticationTokenException",
                request_id,
            )
            resource = "(no route)"
        else:
            response = self._dispatch(request, match, request_id)
            resource = match.route.path
        # The route template, never the concrete path: paths may carry ids.
        LOG.info(
            "%s %s -> %s (%.0f ms)", request.method, resource, response.status_code, (time.monotonic() - started) * 1000
        )
        return response

    def match(self, method: str, path: str) -> RouteMatch | None:
        adapter = self.url_map.bind("localhost")
        try:
            index, arguments = adapter.match(path, method=method)
        except (NotFound, MethodNotAllowed):
            return None
        route = self.routes[int(index)]
        if route.method != method:  # werkzeug answers HEAD for GET rules; API Gateway does not
            return None
        return RouteMatch(route, {name: str(value) for name, value in arguments.items()})

    # --- the proxy integration ----------------------------------------------------------------

    def _dispatch(self, request: Request, match: RouteMatch, request_id: str) -> Response:
        try:
            principal = self.verifier.authorize(match.route, request.headers.get("Authorization"))
        except Unauthorized as refusal:
            LOG.info("401 for %s %s: %s", match.route.method, match.route.path, refusal)
            return _gateway_error(401, "UNAUTHORIZED", "Unauthorized", "UnauthorizedException", request_id)
        event = self.event(request, match, principal, request_id)
        try:
            outcome = self.invoke(self.functions[match.route.function], event)
        except ClientError as refused:  # Lambda rejected the invocation (throttled, ...): API Gateway's 500
            LOG.warning("Lambda refused %s: %s", match.route.function, refused.response["Error"].get("Code"))
            return _gateway_error(
                500, "DEFAULT_5XX", "Internal server error", "InternalServerErrorException", request_id
            )
        if outcome.errored:
            LOG.warning("%s raised %s", match.route.function, outcome.error_type)
            return _gateway_error(
                502, "DEFAULT_5XX", "Internal server error", "InternalServerErrorException", request_id
            )
        try:
            return self.proxy_response(outcome.result(), request_id)
        except (TypeError, ValueError, KeyError, binascii.Error) as error:
            LOG.warning("%s returned a malformed proxy response (%s)", match.route.function, type(error).__name__)
            return _gateway_error(
                502, "DEFAULT_5XX", "Internal server error", "InternalServerErrorException", request_id
            )

    def event(
        self, request: Request, match: RouteMatch, principal: Principal | None, request_id: str
    ) -> dict[str, Any]:
        """The API Gateway REST proxy event (payload format 1.0) for this request."""
        raw = request.get_data(cache=True)
        body: str | None
        if not raw:
            body, is_base64 = None, False
        elif is_text_media(request.content_type):
            try:
                body, is_base64 = raw.decode("utf-8"), False
            except UnicodeDecodeError:
                body, is_base64 = base64.b64encode(raw).decode("ascii"), True
        else:
            body, is_base64 = base64.b64encode(raw).decode("ascii"), True
        return events.proxy_event(
            match.route,
            request.path,
            path_parameters=match.path_parameters,
            headers=list(request.headers.items()),
            query=[(name, value) for name, values in request.args.lists() for value in values],
            body=body,
            is_base64=is_base64,
            claims=principal.authorizer_claims() if principal is not None else None,
            source_ip=request.remote_addr or "127.0.0.1",
            host=request.host,
            scheme=request.scheme,
            protocol=request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            request_id=request_id,
            stage=self.stage,
            account_id=self.account_id,
        )

    @staticmethod
    def proxy_response(result: Any, request_id: str) -> Response:
        """Map a Lambda proxy response (`statusCode`, headers, body, isBase64Encoded) to HTTP."""
        if not isinstance(result, dict):
            raise TypeError("the proxy response is not an object")
        status = int(result["statusCode"])
        raw_body = result.get("body")
        if raw_body is None:
            payload = b""
        elif not isinstance(raw_body, str):
            raise TypeError("the proxy response body is not a string")
        elif result.get("isBase64Encoded"):
            payload = base64.b64decode(raw_body, validate=True)
        else:
            payload = raw_body.encode("utf-8")
        response = Response(payload, status=status)
        response.headers.pop("Content-Type", None)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(name, str(value))
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        response.headers.setdefault("Content-Type", "application/json")
        response.headers["x-amzn-RequestId"] = request_id
        return response

    @staticmethod
    def _token(request: Request) -> Response:
        pool_id, _, rest = request.path.removeprefix(TOKEN_ENDPOINT_PREFIX).partition("/")
        if rest != "oauth2/token":
            return Response(json.dumps({"error": "invalid_request"}), status=404, content_type="application/json")
        try:
            token = cognito.client_credentials_token(
                pool_id,
                request.headers.get("Authorization"),
                request.form.get("grant_type", ""),
                request.form.get("scope"),
            )
        except cognito.OAuthError as refusal:
            return Response(
                json.dumps({"error": refusal.error}), status=refusal.status, content_type="application/json"
            )
        return Response(cognito.token_response(token), content_type="application/json")

    # --- documentation ------------------------------------------------------------------------

    def openapi_bytes(self) -> bytes:
        with self._openapi_lock:
            if self._openapi_cache is None:
                self._openapi_cache = json.dumps(self._openapi_document(), indent=2).encode()
            return self._openapi_cache


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The gateway logs route templates itself; werkzeug's line would print concrete paths."""


def sent_messages(account_id: str, region: str) -> list[dict[str, Any]]:
    """The templated messages moto's SES accepted in this process: source, recipients, template, data."""
    from moto.ses.models import ses_backends  # the stack's own moto, in this process

    found = []
    for message in ses_backends[account_id][region].sent_messages:
        destinations = getattr(message, "destinations", None) or {}
        found.append(
            {
                "message_id": getattr(message, "id", None),
                "source": getattr(message, "source", None),
                "to": list(destinations.get("ToAddresses", [])) if isinstance(destinations, dict) else [],
                "template": getattr(message, "template", None),
                "template_data": getattr(message, "template_data", None),
            }
        )
    return found


class GatewayServer:
    """Serves a `Gateway` on a thread (127.0.0.1, port 3000 by default; 0 picks a free one)."""

    def __init__(self, app: Gateway, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("The gateway is not running")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> str:
        self._server = make_server(
            self.host, self.requested_port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="devstack-gateway", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
