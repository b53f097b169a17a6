"""The API's OpenAPI document: the functions' own documents, merged, for what API Gateway serves.

Each API function's resolver describes the routes it implements (`app.get_openapi_json_schema()`
from Powertools, built from the handlers' Pydantic models). The merged document keeps the
operations of the routes `custody.declared.catalog.ROUTES` declares — the only ones API Gateway
serves — adds the security each route's audience needs, and lists every declared route that
no function implements yet as answering 501 `not_implemented`, so the document never promises
more than exists. `docs/openapi.json` is this document, committed; `custody openapi --check`
(and a test) keeps it current, `custody openapi --write` refreshes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

from custody.declared import catalog, naming
from custody.declared.catalog import Audience
from custody.declared.errors import CustodyError, ServiceBusy
from devstack import runtime
from devstack.paths import OPENAPI_DOC

TITLE: Final = "CRM Custody API"
VERSION: Final = "v1"
HTTP_METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options")

STAFF_SCOPES: Final = naming.resource_server(naming.DEFAULT_PREFIX, catalog.RESOURCE_SERVERS[Audience.STAFF])
SECURITY_SCHEMES: Final[dict[str, dict[str, Any]]] = {
    "customer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An ID token of the customer user pool (`Bearer <token>`). "
        "Locally: `custody local token --email E`.",
    },
    "staff": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An access token of the staff user pool (MFA sign-in) that carries the scope of a group "
        f"the operation names (`{STAFF_SCOPES}/<group>`, added at sign-in for each of the user's "
        "`cognito:groups`); an ID token is refused. Locally: `custody local token --staff E --group G`.",
    },
    "processor": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An access token of a sub-processor's machine client (processor user pool).",
    },
}

UNAUTHORIZED: Final = {
    "description": 'Missing, invalid or expired token (answered by API Gateway, `{"error": "unauthenticated", ...}`)'
}
FORBIDDEN: Final = {"description": "The token's groups do not include one this operation allows (API Gateway)"}
NOT_IMPLEMENTED: Final = {
    "description": 'Declared but not built yet: `{"error": "not_implemented", "message", "details"}`'
}


ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "title": "Error",
    "description": "Every refusal a function answers: a code, a message and details that never echo a value.",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
    "required": ["error", "message", "details"],
}
UNSUPPORTED_MEDIA_TYPE: Final = 415  # custody.api.http.unsupported_media_type


def error_statuses() -> list[int]:
    """The refusals the shared resolver answers: custody.declared.errors' client errors, a body that is not
    JSON (415) and a service kept busy past the retries (503, with Retry-After)."""
    found = {UNSUPPORTED_MEDIA_TYPE}
    pending: list[type[CustodyError]] = [CustodyError]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if 400 <= kind.status < 500 or kind is ServiceBusy:
            found.add(kind.status)
    return sorted(found)


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def function_document(function: catalog.Function) -> dict[str, Any]:
    """The function's own OpenAPI document, from its resolver."""
    module = runtime.load_module(f"{function.name}.handler")
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_json_schema"):
        raise TypeError(f"{function.name}.handler has no Powertools resolver `app`")
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    return document


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: (_renamed_ref(value, renames) if key == "$ref" else _rewrite_refs(value, renames))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _renamed_ref(value: Any, renames: dict[str, str]) -> Any:
    prefix = "#/components/schemas/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :] in renames:
        return prefix + renames[value[len(prefix) :]]
    return value


def _operation(route: catalog.Route, found: dict[str, Any] | None) -> dict[str, Any]:
    operation = dict(found) if found is not None else _not_implemented_operation(route)
    operation["tags"] = [route.function]
    operation["x-custody-function"] = route.function
    operation["x-custody-audience"] = route.audience.value
    # What the route does while the customer it acts on has restricted processing (GDPR art. 18).
    operation["x-custody-under-restriction"] = route.under_restriction.value
    responses = dict(operation.get("responses", {}))
    if route.audience is not Audience.PUBLIC:
        operation["security"] = [{route.audience.value: []}]
        responses.setdefault("401", UNAUTHORIZED)
    else:
        operation["security"] = []
    if route.groups:
        operation["x-custody-groups"] = list(route.groups)
        responses.setdefault("403", FORBIDDEN)
        groups = ", ".join(route.groups)
        note = f"Staff groups allowed: {groups}."
        operation["description"] = f"{operation['description']}\n\n{note}" if operation.get("description") else note
    if found is not None:  # what the shared resolver may answer besides the function's own responses
        for status in error_statuses():
            responses.setdefault(str(status), _error_response(status))
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _not_implemented_operation(route: catalog.Route) -> dict[str, Any]:
    return {
        "summary": f"{route.method} {route.path}",
        "description": "Declared in the route catalog; its capability has not been built yet.",
        "operationId": f"{route.function}_{route.method.lower()}_{_slug(route.path)}",
        "x-custody-status": "not_implemented",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_parameters(route.path)
        ],
        "responses": {"501": NOT_IMPLEMENTED},
    }


def _slug(path: str) -> str:
    return "".join(char if char.isalnum() else "_" for char in path).strip("_")


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def merge(documents: dict[str, dict[str, Any]], routes: Iterable[catalog.Route] = catalog.ROUTES) -> dict[str, Any]:
    """One document from the functions' documents (keyed by function name), for the declared routes."""
    schemas: dict[str, Any] = {}
    operations: dict[tuple[str, str], dict[str, Any]] = {}
    for function_name in sorted(documents):
        document = documents[function_name]
        own_schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
        renames = {
            name: f"{function_name}__{name}"
            for name, schema in own_schemas.items()
            if name in schemas and schemas[name] != schema
        }
        document = _rewrite_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = schema
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    operations[(function_name, f"{method.upper()} {path}")] = operation

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        found = operations.get((route.function, f"{route.method} {route.path}"))
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, found)

    schemas.setdefault("Error", ERROR_SCHEMA)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Customer data held the ethical way: consent, access, rectification and provable "
            "erasure. Generated from the functions' resolvers and the route catalog "
            "(`custody openapi --write`); do not edit by hand.",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": function.name, "description": function.description} for function in catalog.api_functions()],
        "paths": {path: dict(sorted(methods.items())) for path, methods in sorted(paths.items())},
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES},
    }


def undeclared_operations(documents: dict[str, dict[str, Any]]) -> list[str]:
    """Operations a function implements that the route catalog does not declare (API Gateway won't serve them)."""
    declared = {(route.function, route.method, route.path) for route in catalog.ROUTES}
    return sorted(
        f"{name}: {method.upper()} {path}"
        for name, document in documents.items()
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS and (name, method.upper(), path) not in declared
    )


def function_documents() -> dict[str, dict[str, Any]]:
    return {function.name: function_document(function) for function in catalog.api_functions()}


def build() -> dict[str, Any]:
    return merge(function_documents())


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="custody openapi", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {OPENAPI_DOC.name}")
    action.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    parser.add_argument("--path", type=Path, default=OPENAPI_DOC)
    args = parser.parse_args(argv)
    documents = function_documents()
    for item in undeclared_operations(documents):
        print(f"warning: not in custody.declared.catalog.ROUTES, so not served: {item}", file=sys.stderr)
    text = render(merge(documents))
    if args.write:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text)
        print(f"wrote {args.path}")
        return 0
    if args.check:
        current = args.path.read_text() if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale: run `custody openapi --write`", file=sys.stderr)
            return 1
        print(f"{args.path} is current")
        return 0
    sys.stdout.write(text)
    return 0
